"""What the socket-level Python test servers share (fault_collector.py,
http_peer.py): the listening port published atomically, a lifetime, and a
thread per accepted connection.
"""
import os
import threading


def announce(port_file, port, lifetime):
    """Writes PORT to PORT_FILE atomically (through PORT_FILE.tmp and a
    rename, so a reader never sees half of it) and makes the process exit
    by itself after LIFETIME seconds."""
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, port_file)
    threading.Timer(lifetime, lambda: os._exit(0)).start()


def accept_forever(srv, handle, *args):
    """Accepts connections on the listening socket SRV for ever, each served
    by handle(sock, n, *args) on a daemon thread of its own; n counts the
    connections from 1."""
    n = 0
    while True:
        sock, _ = srv.accept()
        n += 1
        threading.Thread(target=handle, args=(sock, n) + args, daemon=True).start()
