"""Who may use this Chatdeck and how much: sign-in, admins, server-wide policy, rate limits.

* ``access/identity.py``: the three identity modes (single user, OIDC with ``st.login``, a trusted
  reverse-proxy header), allowed addresses and domains, admins from configuration;
* ``access/policy.py``: what admins decide on the Admin page (disabled backends, whether the server's
  own logins may be used, the default rate limit), stored in ``app_settings``;
* ``access/limits.py``: the messages-per-minute limit, enforced by the runner for the UI and the REST API.

Nothing here renders anything; pages call it.
"""
