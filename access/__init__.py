"""Who may use this Chatdeck and how much: sign-in, admins, server-wide policy, rate limits.

* ``access/identity.py``: the three identity modes (single user, OIDC with ``st.login``, a trusted
  reverse-proxy header), allowed addresses and domains, admins from configuration;
* ``access/policy.py``: what admins decide on the Admin page (disabled backends, whether the server's
  own logins may be used, the default rate limit), stored in ``app_settings``;
* ``access/limits.py``: the messages-per-minute limit, enforced by the runner for the UI and the REST API;
* ``access/credentials.py``: which login a reply is sent with (the user's own, else the server's where allowed);
* ``access/api_tokens.py``: the REST APIs' tokens, issued in Settings and verified per request.

Nothing here renders anything; pages call it.
"""
