"""digest — a NenTang example plugin built on another: daily counts of a commune's feedback.

It shows a plugin dependency: the manifest's ``[requires]`` names ``feedback``, so the kernel
refuses to enable ``digest`` where ``feedback`` is not enabled (or enables it first, when asked
to), and the code uses what ``feedback`` publishes (``nentang_feedback.api``) — never its table.
"""
