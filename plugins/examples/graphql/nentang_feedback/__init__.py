"""feedback — a NenTang example plugin: residents' feedback (phản ánh, kiến nghị) to their commune.

It shows the GraphQL extension point: ``nentang_graphql_contribute`` adds the query
``feedback_items`` and the mutation ``feedback_submit`` to the schema of every tenant where the
plugin is enabled — and nowhere else — each guarded by a permission the manifest declares.
``nentang_feedback.api`` is the module other plugins may use (see the ``digest`` example).
"""
