# %pre of the ultraauth RPM: the system user ultraauthd runs as (User= in
# ultraauthd.service). It stays on removal, as with the Debian package.
getent group ultraauth >/dev/null || groupadd --system ultraauth
getent passwd ultraauth >/dev/null || \
    useradd --system --gid ultraauth --home-dir / --no-create-home \
        --shell /sbin/nologin --comment "UltraAuth login verification daemon" ultraauth
exit 0
