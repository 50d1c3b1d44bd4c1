# %preun of the ultraauth RPM: stop and disable the daemon on removal ($1 = 0), not
# on upgrade.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now ultraauthd.service >/dev/null 2>&1 || :
fi
exit 0
