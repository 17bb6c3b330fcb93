"""The scanready lab behind lab/lab, one module a concern.

    cli                the command line (lab/lab up, status, down, _delay-proxy); its docstring tells what the lab is
    lifecycle          up, down and status of an instance, one change at a time across processes
    instance           an instance's names and addresses (Lab), and the slot a new one takes
    network            its network namespace, veth link, nft rules and /etc/hosts line
    domain_controller  the Samba AD DC: provisioned, LDAPS certificate, admin shares, started, reverse DNS
    targets            the target classes and the member server's configuration behind them
    member             the member server joined to the domain and started
    delay_proxy        the TCP proxy that delays replies (no netem here)
    inventory          the inventory `up` writes
    credentials        the lab's throwaway accounts, and how its own commands log on as the admin
    settings           paths, ports and modes the modules share
    shell              running commands, polling, log lines
"""
