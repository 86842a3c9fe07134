"""The web console: the platform's pages for administrators, served by the kernel (issue 15).

URL shapes (``app.py`` says why the unit is in the path):

- ``/console/sign-in`` (GET form, POST), ``/console/sign-out`` (POST), ``/console/`` (the unit
  chooser), ``/console/static/...`` (the stylesheet, vendored front-end files);
- ``/t/{code}/console/sign-in`` (the sign-in page, returning to that unit);
- ``/t/{code}/console/...`` a unit's console: ``units.py``, ``people.py``, ``roles.py`` and
  ``tokens.py`` list their pages.

Server-rendered (Jinja2), usable with JavaScript off: every act is a plain form post answered by a
redirect (303). Vietnamese by default, English on request (``i18n.py``). Every form is protected
against CSRF (``csrf.py``), every response carries the security headers (``security.py``), and every
act goes through the same permission check and service function as its GraphQL mutation
(``actions.py``).
"""
