# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify stack: the lockout guard, names and tickets, one target's checks, the fleet runner.

results (the contract: failure classes, check and host results), fixes (each failure's next step),
credentials, kerberos, smb and ladder (sessions), probes (shares, registry, services, WMI), guard,
names, target, fleet, run (a whole verification) and specs (module options, checked into a request).
"""
