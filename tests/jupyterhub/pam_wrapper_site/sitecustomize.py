"""Route pamela, JupyterHub's PAM binding, through pam_wrapper in the hub under test.

pamela loads libpam with ctypes.CDLL(ctypes.util.find_library("pam")) when it is imported,
so LD_PRELOAD of libpam_wrapper.so does not reach it. Python imports this module at start
when its directory is on PYTHONPATH, before JupyterHub imports pamela, and makes
find_library("pam") return libpam_wrapper.so. pam_wrapper then reads the service files
from PAM_WRAPPER_SERVICE_DIR when PAM_WRAPPER=1, and /etc/pam.d stays untouched.
"""

import ctypes.util

_find_library = ctypes.util.find_library


def _find_library_with_pam_wrapper(name):
    if name == "pam":
        return "libpam_wrapper.so"
    return _find_library(name)


ctypes.util.find_library = _find_library_with_pam_wrapper
