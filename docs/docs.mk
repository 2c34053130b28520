# Documentation installed with the program.
dist_man1_MANS = docs/provauth.1
# provauthd is an administrator's daemon in sbin: section 8.
dist_man8_MANS = docs/provauthd.8

# What was tried against faults, crashes and bad input, and what held.
EXTRA_DIST += docs/RELIABILITY.md

# The house rules: the tree map and how one call flows (HACKING), the style
# ./dev lint checks in part (STYLE), and notes on the two subtle parts.
EXTRA_DIST += docs/HACKING.md docs/STYLE.md \
	docs/internals/session-manager.md docs/internals/plugin-abi.md \
	docs/internals/postgres-store.md docs/internals/account-pool.md \
	docs/internals/provauthd.md

# provauthd's systemd unit and settings. The Debian package installs them
# (debian/rules, debian/provauthd.service); make install leaves /etc and the
# unit directories alone, so a source install overwrites no settings.
EXTRA_DIST += etc/provauthd.service etc/provauthd.yaml

# The man page documents every command `provauth --help` lists
# (tests/cli/test_man_page.sh).
# The commented sample settings go to $(pkgdatadir)/provauth.yaml.sample: a
# name no settings lookup reads, so installing (or upgrading) never changes
# a user's configuration; copy it to ~/.config/provauth/provauth.yaml.
install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(pkgdatadir)'
	$(INSTALL_DATA) '$(srcdir)/etc/provauth.yaml' '$(DESTDIR)$(pkgdatadir)/provauth.yaml.sample'

uninstall-local:
	rm -f '$(DESTDIR)$(pkgdatadir)/provauth.yaml.sample'
