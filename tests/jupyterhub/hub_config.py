# JupyterHub configuration for tests/jupyterhub: the packaged example
# (packaging/jupyterhub/jupyterhub_config.py) with loopback ports and paths from the
# environment that harness.js sets. Everything the hub writes goes to its working directory,
# a temporary directory per test.

import os

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

repo = os.environ["ULTRAAUTH_REPO"]
load_subconfig(os.path.join(repo, "packaging/jupyterhub/jupyterhub_config.py"))  # noqa: F821

c.JupyterHub.bind_url = "http://127.0.0.1:{}".format(os.environ["HUB_PUBLIC_PORT"])
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{}".format(os.environ["HUB_API_PORT"])
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{}".format(os.environ["HUB_PROXY_API_PORT"])
c.ConfigurableHTTPProxy.command = [os.environ["CONFIGURABLE_HTTP_PROXY"]]

c.JupyterHub.template_paths = [os.path.join(repo, "packaging/jupyterhub/templates")]
c.JupyterHub.template_vars = {"ultraauth_start_url": os.environ["ULTRAAUTH_START_URL"]}

c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "jupyterhub.pid"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.log_level = "DEBUG"
