# %post of the ultraauth RPM: make systemd read the new unit. The service is not
# enabled: edit /etc/ultraauth/ultraauthd.toml first, then systemctl enable --now.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    # On upgrade ($1 = 2) a running daemon picks up the new binary.
    if [ "$1" -ge 2 ]; then
        systemctl try-restart ultraauthd.service >/dev/null 2>&1 || :
    fi
fi
exit 0
