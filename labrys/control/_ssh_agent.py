"""The ssh runtime's agent: one process per node, speaking JSON lines over one SSH channel.

Why an agent rather than one SSH command per call: every command sshd runs goes through
the user's login shell, and bash run by sshd reads ``~/.bashrc`` even when it is not
interactive (about 180 ms for root's on the machines labrys is built on), so a command
per call would cost far more than the command. The agent is started once per node (one
shell, then ``exec python3``), and runs every command and process itself, directly
(``subprocess``, no shell). It also owns what it spawns, as the local runtime does: each
process is its direct child, leads its own process group, is signalled through a pidfd
while unreaped, and is reaped by ``wait``.

Clean-up does not depend on the control machine. Every process the agent starts carries
``LABRYS_CLUSTER=<cluster>`` in its environment, which every descendant inherits (a
postmaster Patroni starts in a session of its own, too), and the agent kills every
process carrying it when its channel closes, whether the run ended, failed or was
killed outright (the control machine's kernel closes the TCP connection; sshd closes the
channel). ``--cleanup`` does the same as a one-shot command, and also removes labrys's
iptables chains and the cluster's directory: the runtime's ``remove``.

It imports nothing of labrys and needs only Python 3.9 (pidfds): it is sent to the node
as the command line itself. Requests and replies (one JSON object a line, ``id`` pairs
them; requests are served concurrently, each in a thread)::

    {"id": 1, "op": "run", "argv": [...], "input": "...", "env": {...}, "timeout": 60}
      -> {"id": 1, "code": 0, "stdout": "...", "stderr": "..."}
    {"id": 2, "op": "spawn", "argv": [...], "log": "/path", "env": {...}}  -> {"id": 2, "pid": 7}
    {"id": 3, "op": "signal", "pid": 7, "sig": 15, "group": true}  -> {"id": 3, "ok": true}
    {"id": 4, "op": "wait", "pid": 7, "timeout": 1.5}  -> {"id": 4, "code": null}
    {"id": 5, "op": "hosts", "lines": "10.0.0.1 n1\n..."}  -> {"id": 5, "ok": true}
    {"id": 6, "op": "cleanup", "directory": "/var/tmp/labrys/ls3fa0"}  -> {"id": 6, "ok": true}

Errors come back as ``{"id": N, "error": "..."}``.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

CHAINS = ("labrys-partition", "labrys-loss", "labrys-delay")


class Agent:
    def __init__(self, cluster):
        self.cluster = cluster
        self.marker = ("LABRYS_CLUSTER=" + cluster).encode()
        self.children = {}
        self.lock = threading.Lock()
        self.out = threading.Lock()

    def env(self, extra):
        return dict(os.environ, **(extra or {}), LABRYS_CLUSTER=self.cluster)

    def run(self, r):
        try:
            done = subprocess.run(r["argv"], input=(r.get("input") or "").encode()
                                  if r.get("input") is not None else None,
                                  capture_output=True, env=self.env(r.get("env")),
                                  timeout=r.get("timeout", 60), check=False)
        except subprocess.TimeoutExpired:
            return {"timeout": True}
        except OSError as e:
            return {"code": 127, "stdout": "", "stderr": f"{r['argv'][0]}: {e.strerror}"}
        return {"code": done.returncode, "stdout": done.stdout.decode(errors="replace"),
                "stderr": done.stderr.decode(errors="replace")}

    def spawn(self, r):
        os.makedirs(os.path.dirname(r["log"]), exist_ok=True)
        with open(r["log"], "ab") as log:
            popen = subprocess.Popen(r["argv"], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=self.env(r.get("env")),
                                     start_new_session=True)
        with self.lock:
            self.children[popen.pid] = (popen, os.pidfd_open(popen.pid))
        return {"pid": popen.pid}

    def signal(self, r):
        popen, pidfd = self.children[r["pid"]]
        with self.lock:
            if popen.returncode is not None:
                return {"ok": False}
            try:
                if r.get("group", True):
                    os.killpg(popen.pid, r["sig"])  # unreaped, so the group ID is still ours
                else:
                    signal.pidfd_send_signal(pidfd, r["sig"])
            except ProcessLookupError:
                return {"ok": False}
        return {"ok": True}

    def wait(self, r):
        popen, pidfd = self.children[r["pid"]]
        if popen.returncode is None:
            timeout = r.get("timeout")
            if not select.select([pidfd], [], [], timeout)[0]:
                return {"code": None}
            with self.lock:
                popen.wait()
        return {"code": popen.returncode}

    def hosts(self, r):
        set_hosts(self.cluster, r.get("lines"))
        return {"ok": True}

    def cleanup(self, r):
        clean(self.cluster, r["directory"])
        return {"ok": True}

    def serve(self, request):
        try:
            reply = getattr(self, request["op"])(request)
        except Exception as e:  # reported to the caller, never fatal to the agent
            reply = {"error": f"{type(e).__name__}: {e}"}
        reply["id"] = request["id"]
        data = (json.dumps(reply) + "\n").encode()
        with self.out:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    def main(self):
        print(json.dumps({"ready": os.getpid()}), flush=True)
        for line in sys.stdin.buffer:
            request = json.loads(line)
            threading.Thread(target=self.serve, args=(request,), daemon=True).start()
        kill_marked(self.marker)


def kill_marked(marker, *, timeout_s=10.0):
    """SIGKILL every process whose environment carries ``marker``, until none is left.

    Each is pinned with a pidfd and its environment read again before the signal, so a
    PID reused in between is spared.
    """
    me = os.getpid()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                pidfd = os.pidfd_open(int(entry))
            except OSError:
                continue
            try:
                if marked(entry, marker):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                    found += 1
            except OSError:
                pass
            finally:
                os.close(pidfd)
        if not found:
            return
        time.sleep(0.05)


def marked(pid, marker):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False
    # A zombie's environment reads as empty: it is dead already.


def set_hosts(cluster, lines, path="/etc/hosts"):
    """Replace the cluster's block of /etc/hosts with ``lines`` (None: remove it).

    Rewritten in place rather than renamed over: /etc/hosts may be a bind mount (in a
    network namespace, `ip netns exec` mounts the namespace's own there), and a rename
    onto a mount point fails.
    """
    begin, end = f"# labrys {cluster} begin\n", f"# labrys {cluster} end\n"
    with open(path, "r+") as f:
        text = f.read()
        if begin in text and end in text:
            text = text[:text.index(begin)] + text[text.index(end) + len(end):]
        if lines is not None:
            text += begin + lines + end
        f.seek(0)
        f.write(text)
        f.truncate()


def clean(cluster, directory):
    """Everything of the cluster on this machine: processes, rules, hosts lines, folder."""
    kill_marked(("LABRYS_CLUSTER=" + cluster).encode())
    remove_chains()
    set_hosts(cluster, None)
    shutil.rmtree(directory, ignore_errors=True)


def remove_chains():
    for chain in CHAINS:
        while subprocess.run(["iptables", "-D", "INPUT", "-j", chain],
                             capture_output=True).returncode == 0:
            pass
        subprocess.run(["iptables", "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-X", chain], capture_output=True)


if __name__ == "__main__":
    if sys.argv[1] == "--cleanup":
        clean(sys.argv[2], sys.argv[3])
    else:
        Agent(sys.argv[1]).main()
