# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan policy GPO: one module per file format, the policy model, and the store that reads, plans and writes.

Formats (no I/O): inf (GptTmpl.inf), registry_pol, gpt_ini (and the version arithmetic), gplink, extensions
(gPCMachineExtensionNames), folder_acl (dsacl2fsacl, the default GPO ACL); policy (the scan policy's settings).
The store: directory (LDAP reads), folder (SYSVOL reads), trust (the adoption rule), planner (steps as data),
executor (applies the steps), store (the run in the crash-consistent order).
"""
