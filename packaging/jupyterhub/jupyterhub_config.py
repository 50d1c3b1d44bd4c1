# JupyterHub configuration for logins verified by ultraauth (UltraAuth or any OpenID Connect
# provider), for example as /etc/jupyterhub/jupyterhub_config.py. docs/jupyterhub.md walks
# through the whole setup.
#
# How a login works:
#   1. The hub's login page shows "Sign in with UltraAuth". The button opens ultraauthd's
#      /start page, which sends the browser to the provider.
#   2. The user verifies there (fingerprint, face, security key). The provider returns to
#      ultraauthd's /callback, which checks the ID token, maps it to a local user and shows
#      a one-time code bound to that user.
#   3. ultraauthd sends the browser back to the hub's login page with the user and the code
#      in the URL fragment. The page fills in the username and password fields, and the user
#      presses Sign in.
#   4. PAMAuthenticator runs the PAM service "jupyterhub" (/etc/pam.d/jupyterhub), where
#      pam_ultraauth.so prompts for the code with a hidden prompt. pamela answers that prompt
#      with the form's password, and ultraauthd redeems the code for this user, once.
#
# ultraauthd needs, in /etc/ultraauth/ultraauthd.toml:
#
#   [web]
#   listen = "127.0.0.1:8765"
#   public_url = "https://hub.example.org/ultraauth"   # what the browser sees (see nginx below)
#   return_url = "https://hub.example.org/hub/login"   # this hub's login page
#
#   [services.jupyterhub]
#   flow = "code"                # or "push": the provider's app approves, the password is ignored
#   session_lifetime_secs = 0    # see below
#
# Keep session_lifetime_secs = 0 for the hub. pamela sets no PAM_RHOST, so a verified
# session would be keyed by user and service alone: for its lifetime, anyone could log in
# as that user with any password. The hub keeps users logged in with its own cookie anyway.
#
# The provider's client must list {public_url}/callback among its redirect URIs.

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

# --- Authentication through PAM ---------------------------------------------------------

c.JupyterHub.authenticator_class = "pam"

# The PAM service file: /etc/pam.d/jupyterhub (pam.d/jupyterhub in ultraauth's sources).
c.PAMAuthenticator.service = "jupyterhub"

# After the auth stack, PAMAuthenticator runs the service's account stack (pam_acct_mgmt)
# in a second PAM transaction. Keep it on: it rejects expired and locked accounts.
c.PAMAuthenticator.check_account = True

# PAM sessions stay off (the default since JupyterHub 2.2). The hub still needs every user
# as a local account: after PAM succeeds, a user unknown to the system gets HTTP 500.
c.PAMAuthenticator.open_sessions = False

# Who may use the hub once PAM authentication succeeds. JupyterHub 5 and later admit
# nobody whom none of these settings (or admin_users) allows. allow_all admits every local
# user that pam_ultraauth.so approves, which means every provider account that maps to a
# local user. Narrow it with allowed_users or allowed_groups (local groups) when that is
# too wide.
c.Authenticator.allow_all = True
# c.Authenticator.allowed_groups = {"hpc-users"}
# c.Authenticator.admin_users = {"alice"}

# --- The login page ---------------------------------------------------------------------

# The directory holding ultraauth's login.html (packaging/jupyterhub/templates). It
# extends JupyterHub's own login.html, so the password form keeps working.
c.JupyterHub.template_paths = ["/usr/local/share/ultraauth/jupyterhub/templates"]

# ultraauthd's /start page: [web] public_url + "/start". Without it, login.html leaves the
# button and its script out.
c.JupyterHub.template_vars = {
    "ultraauth_start_url": "https://hub.example.org/ultraauth/start",
}

# --- Network ----------------------------------------------------------------------------

# JupyterHub's proxy listens here; nginx in front terminates TLS for hub.example.org and
# forwards /ultraauth/ to ultraauthd's [web] listen address:
#
#   location /ultraauth/ {
#       proxy_pass http://127.0.0.1:8765;
#       proxy_set_header Host $host;
#   }
#   location / {
#       proxy_pass http://127.0.0.1:8000;
#       proxy_set_header Host $host;
#       proxy_set_header X-Real-IP $remote_addr;
#       proxy_set_header X-Forwarded-Proto $scheme;
#       proxy_http_version 1.1;
#       proxy_set_header Upgrade $http_upgrade;
#       proxy_set_header Connection $connection_upgrade;   # map $http_upgrade, see nginx docs
#   }
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

# --- A hub running as a non-root user ---------------------------------------------------
#
# ultraauthd accepts connections on its socket only from the users in [socket]
# allowed_users (checked with SO_PEERCRED; the default is root alone). A hub running as the
# system user "jupyterhub" needs, in /etc/ultraauth/ultraauthd.toml:
#
#   [socket]
#   allowed_users = ["root", "jupyterhub"]
#
# A non-root hub also needs a spawner that can start servers as other users, such as
# sudospawner, and its account stack must work without root: pam_unix.so reads
# /etc/shadow through its setuid helper unix_chkpwd. Every process of an allowed user can
# redeem one-time codes, so add no user whose processes others control.
