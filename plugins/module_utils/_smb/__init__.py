# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMB 2/3 on impacket, one stack for the SYSVOL writer and the verifier's sessions to targets.

signing: the message authentication impacket leaves out or does slowly: AesCmac (the one AES-CMAC),
ReplyKeys, reply_fault (a reply's signature or AES-CCM tag checked) and ReplyGuard (every reply of a
session checked before impacket reads it).
client: the one impacket SMB3 client (client_class(): signing-required kept, AesCmac signing),
negotiate() (TCP 445 and the SMB 2/3 negotiation) and ntlmv1() (one thread's logon with NTLMv1).
sysvol: Sysvol (a signed, reply-checked SMB 3 session to a DC's share), SysvolError, split_unc,
smb_credentials and TEMP_SUFFIX.
It imports nothing of _verify, _gpo or _ldap: they build on it.
"""
