# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the scanner needs on a target, probed read-only over one session, each failure with its fix.

Shares (the source article's `net use \\\\host\\C$`), registry keys over the winreg pipe (`reg query
\\\\host\\HKLM\\Software`), services over svcctl (the service manager opened for connect and
enumerate only; configuration and status are queried, nothing is started or changed) and WMI over
DCOM at Packet Integrity as a scanner connects (then Packet Privacy where refused): one module each, with
what they share (classifying errors) in `classify`.
Nothing here writes to a target.
"""
