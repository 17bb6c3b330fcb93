# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each failure's fix: the admin's next step, by the kind of check (logon, share, registry, service,
wmi, smb_signing) and its failure class."""
from __future__ import annotations

from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.results import CheckResult, FailureClass

FIREWALL_445: Final = ("Allow File and Printer Sharing (TCP 445) from the scanner addresses through the host's "
                       "firewall (the scan policy GPO's file and printer sharing exception does this) and check the "
                       "route from the scanner to the host.")
RPC_FIREWALL: Final = ("Allow Remote Administration (TCP 135 and the RPC dynamic ports) from the scanner addresses "
                       "through the host's firewall (the scan policy GPO's remote administration exception does "
                       "this).")
LOCAL_ADMIN: Final = ("Make the scanner account a local administrator of the host: a member of Domain Admins, or "
                      "of a group in the host's Administrators group (e.g. by a Restricted Groups GPO). A local "
                      "account also needs HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\"
                      "LocalAccountTokenFilterPolicy = 1 (DWORD).")
DC_NEEDS_DOMAIN_ADMIN: Final = (
    "Domain controllers are kept out of the scanner group's reach: on a DC, Administrators is the domain's own "
    "group, so the local Administrators GPO denies them Apply Group Policy: scan them with a Domain Admins account "
    "(a second scanner account) or use privilege domain_admins (scanready_account_privilege: domain_admins).")
SLOW: Final = ("The host answers too slowly: check its load and the network path to it; if the link is known to "
               "be slow, raise target_timeout.")
GPO_SERVICE: Final = ("the scan policy GPO (Computer Configuration > Windows Settings > Security Settings > System "
                      "Services > {display}: Automatic) sets this at the next policy refresh; "
                      "`gpupdate /target:computer /force` on the host applies it now.")
SERVICE_DISPLAY: Final[dict[str, str]] = {
    "remoteregistry": "Remote Registry",
    "lanmanserver": "Server",
    "mpssvc": "Windows Defender Firewall",
}

FIXES: Final[dict[tuple[str, str], str]] = {
    ("logon", FailureClass.UNREACHABLE): FIREWALL_445,
    ("logon", FailureClass.REFUSED): (
        "Start the Server service (LanmanServer) and allow File and Printer Sharing (TCP 445) from the "
        "scanner addresses through the host's firewall."),
    ("logon", FailureClass.TIMEOUT): SLOW,
    ("logon", FailureClass.LOGON_FAILURE): (
        "Check the password the scanner and this run use for the account against the domain, and that the "
        "host trusts the account's domain. The run stopped at this refusal so that the account is not locked "
        "out."),
    ("logon", FailureClass.ACCOUNT_LOCKED): (
        "Unlock the account (Active Directory Users and Computers > the account > Account > Unlock account, "
        "or Unlock-ADAccount) and find what still uses an old password."),
    ("logon", FailureClass.ACCOUNT_DISABLED): (
        "Enable the account: run scanready.windows.scan_window (which enables it for a scan window), or "
        "scanready.windows.scan_account with state=present."),
    ("logon", FailureClass.ACCOUNT_EXPIRED): (
        "The scan window ended: run scanready.windows.scan_window with scanready_account_expires set to the "
        "window's end (e.g. 8h) before the scan, or clear the expiry (scanready_account_expires: never)."),
    ("logon", FailureClass.PASSWORD_EXPIRED): (
        "Set a new password for the account and make it never expire (Password never expires), as a scanner "
        "account needs; then update it in the scanner."),
    ("logon", FailureClass.ACCESS_DENIED): (
        "Let the account log on over the network: remove it and its groups from the user right 'Deny access "
        "to this computer from the network', and lift logon-hour or workstation restrictions on the account."),
    ("logon", FailureClass.SPN_HARDENING): (
        "The host validates the SMB service name the client names (SmbServerNameHardeningLevel) and refused "
        "this one: scan the host by a name it knows itself by (its FQDN), register the alias (netdom "
        "computername <host> /add:<alias>), or set the level to 1."),
    ("logon", FailureClass.ERROR): (
        "The host could not complete the logon (see the detail), e.g. it cannot reach a domain controller or "
        "its trust with the domain is broken (Test-ComputerSecureChannel -Repair)."),
    ("share", FailureClass.ACCESS_DENIED): LOCAL_ADMIN,
    ("share", FailureClass.DC_NEEDS_DOMAIN_ADMIN): DC_NEEDS_DOMAIN_ADMIN,
    ("registry", FailureClass.DC_NEEDS_DOMAIN_ADMIN): DC_NEEDS_DOMAIN_ADMIN,
    ("service", FailureClass.DC_NEEDS_DOMAIN_ADMIN): DC_NEEDS_DOMAIN_ADMIN,
    ("share", FailureClass.SHARE_MISSING): (
        "Restore the administrative shares: set AutoShareServer (servers) or AutoShareWks (workstations) "
        "under HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters to 1 (or remove the "
        "value) and restart the Server service."),
    ("share", FailureClass.TIMEOUT): SLOW,
    ("share", FailureClass.ERROR): "See the detail; the share answered in a way a scan does not expect.",
    ("registry", FailureClass.REGISTRY_UNAVAILABLE): (
        "Start the Remote Registry service and set it to Automatic: " + GPO_SERVICE.format(display="Remote Registry")),
    ("registry", FailureClass.ACCESS_DENIED): (
        LOCAL_ADMIN + " Administrators also need Full Control on HKLM\\SYSTEM\\CurrentControlSet\\Control\\"
        "SecurePipeServers\\winreg (the default)."),
    ("registry", FailureClass.TIMEOUT): SLOW,
    ("registry", FailureClass.ERROR): "See the detail; check that the key exists on this host.",
    ("service", FailureClass.SERVICE_NOT_AUTOMATIC): "Set {name} to start automatically and start it: " + GPO_SERVICE,
    ("service", FailureClass.SERVICE_NOT_RUNNING): (
        "Start {name} (sc \\\\<host> start {name}) and find why it stopped; it is set to start automatically "
        "(services with trigger start stop when idle and start on demand)."),
    ("service", FailureClass.SERVICE_UNKNOWN): (
        "The host's service manager does not know {name}: expected on a host that is not Windows (Samba); on "
        "Windows check the service name."),
    ("service", FailureClass.ACCESS_DENIED): LOCAL_ADMIN,
    ("service", FailureClass.REGISTRY_UNAVAILABLE): "See the detail; the service manager's pipe did not open.",
    ("service", FailureClass.TIMEOUT): SLOW,
    ("service", FailureClass.ERROR): "See the detail.",
    ("wmi", FailureClass.WMI_ACCESS_DENIED): (
        "Give the account access to WMI on the host: make it a local administrator (administrators have "
        "Remote Enable on every namespace by default), or give it Remote Enable on the namespace (WMI Control > "
        "Security) and DCOM remote launch and activation."),
    ("wmi", FailureClass.WMI_PRIVACY_NOT_ENFORCED): (
        "Run WMI in its own svchost at Packet Privacy: `winmgmt /standalonehost 6`, then restart the Windows "
        "Management Instrumentation service with its dependants - the scanready.windows.wmi_privacy role (the "
        "wmi stage of scanready.windows.site) does both, and restarts WMI on a host where the command ran but "
        "the restart did not."),
    ("wmi", FailureClass.WMI_UNAVAILABLE): (
        "On Windows, start the Windows Management Instrumentation service and allow Remote Administration "
        "(TCP 135 and the RPC dynamic ports) from the scanner addresses; a host without WMI (e.g. Samba) "
        "cannot answer WMI checks."),
    ("wmi", FailureClass.REFUSED): RPC_FIREWALL,
    ("wmi", FailureClass.UNREACHABLE): RPC_FIREWALL,
    ("wmi", FailureClass.TIMEOUT): SLOW,
    ("wmi", FailureClass.ERROR): "See the detail.",
    ("smb_signing", FailureClass.SIGNING_NOT_REQUIRED): (
        "Advisory (not needed for scanning): require SMB signing on the host, so that a relay of the scanner "
        "account's logon to it is refused: Computer Configuration > Windows Settings > Security Settings > Local "
        "Policies > Security Options > 'Microsoft network server: Digitally sign communications (always)': "
        "Enabled."),
}


def fix_for(kind: str, cls: str, subject: str = "") -> str | None:
    """The admin's next step for a failure of a `kind` check (logon, share, registry, service, wmi)."""
    if cls in (FailureClass.OK, FailureClass.NOT_TESTED):
        return None
    text = FIXES.get((kind, cls)) or FIXES.get(("logon", cls)) or FIXES.get((kind, FailureClass.ERROR))
    if text is None:
        return None
    return text.replace("{name}", subject).replace("{display}", SERVICE_DISPLAY.get(subject.lower(), subject))


def failed(kind: str, cls: str, detail: str, required: bool, subject: str = "") -> CheckResult:
    return CheckResult(False, cls, required, detail, fix_for(kind, cls, subject))
