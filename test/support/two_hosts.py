"""Two hosts on one machine: a "robot" and a "workstation" network namespace and a link between.

The camera runs on the robot and Mask R-CNN on a workstation, with DDS between them over a
network (Wi-Fi, often). `TwoHosts` makes that on one Linux machine with the kernel's own network
stack: two network namespaces joined by a veth pair (robot 10.200.0.1/24, workstation
10.200.0.2/24, nothing else reachable from either but its own loopback), optionally with a
token-bucket rate limit (`tc tbf`) on both ends of the link and multicast dropped on it (a
network where DDS's default discovery cannot work), and a link that can be set down and up
(the robot leaving and coming back). Each host also has a /dev/shm of its own, shared by its
processes only, as separate machines have: DDS shared memory cannot carry anything across.

Processes are started inside a host with `ip netns exec` and an environment that lets ROS 2
discovery leave localhost (`ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET`, no `ROS_LOCALHOST_ONLY`)
and keeps the caller's `ROS_DOMAIN_ID`. Needs root and iproute2 (`ip`, `tc`); without them
`TwoHosts` raises `HostsUnavailableError` saying why. Not in this kernel: `netem` (delay and loss).

Run as a script it is the results listener of the tests and benchmarks, started on one host
(see `listen`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROBOT_ADDRESS = '10.200.0.1'
WORKSTATION_ADDRESS = '10.200.0.2'
PREFIX_LENGTH = 24
QUEUE_SECONDS = 0.1
"""Longest a packet waits in a rate-limited link's queue (tbf `latency`); later ones drop."""

SHARED_MEMORY_ROOT = Path('/dev/shm')
_SCRIPT = Path(__file__).resolve()


class HostsUnavailableError(RuntimeError):
    """The machine cannot make network namespaces here (not root, no iproute2, no permission)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(['ip', *args], capture_output=True, text=True, check=check,
                          timeout=30)


class HostProcess:
    """A process started inside a host, in its own process group, its output in a log file."""

    def __init__(self, command: list[str], env: dict, log: Path):
        self.log = log
        self._log_file = open(log, 'w')  # noqa: SIM115 - closed by stop
        self.popen = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True)

    @property
    def returncode(self):
        return self.popen.poll()

    def output(self) -> str:
        return self.log.read_text(errors='replace')

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT to its process group (as Ctrl+C), SIGKILL only if it will not stop."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log_file.close()
        return self.popen.returncode


class Host:
    """One end of the link: a network namespace, its veth interface and address."""

    def __init__(self, name: str, namespace: str, interface: str, address: str, work: Path):
        self.name, self.namespace = name, namespace
        self.interface, self.address = interface, address
        self.shared_memory = SHARED_MEMORY_ROOT / f'{namespace}-shm'
        self._work = work
        self._processes: list[HostProcess] = []

    def environment(self, **variables) -> dict:
        """The environment of a process here: discovery beyond localhost, plus `variables`."""
        env = dict(os.environ)
        for name in ('ROS_LOCALHOST_ONLY', 'ROS_STATIC_PEERS', 'ROS_DISCOVERY_SERVER',
                     'ROS_SUPER_CLIENT'):
            env.pop(name, None)
        env.update(ROS_AUTOMATIC_DISCOVERY_RANGE='SUBNET', RCUTILS_COLORIZED_OUTPUT='0',
                   PYTHONUNBUFFERED='1')
        env.update({name: str(value) for name, value in variables.items()})
        return env

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside this host, with the host's own /dev/shm."""
        # `ip netns exec` gives the command a mount namespace of its own, so the bind mount
        # stays inside it and every process of this host sees the same private /dev/shm.
        return ['ip', 'netns', 'exec', self.namespace, 'sh', '-c',
                'mount --bind "$0" /dev/shm && exec "$@"', str(self.shared_memory),
                *[str(arg) for arg in argv]]

    def start(self, argv: list[str], log_name: str, **variables) -> HostProcess:
        """Start `argv` here with `environment(**variables)`; stopped by `TwoHosts.close`."""
        log = self._work / f'{self.name}-{len(self._processes)}-{log_name}.log'
        process = HostProcess(self.command(argv), self.environment(**variables), log)
        self._processes.append(process)
        return process

    def run(self, argv: list[str], timeout: float = 60.0,
            **variables) -> subprocess.CompletedProcess:
        """Run `argv` here to its end; output (stdout and stderr) captured as text."""
        return subprocess.run(self.command(argv), env=self.environment(**variables),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)

    def byte_counts(self) -> tuple[int, int]:
        """Bytes sent and received by this host's end of the link so far (tx, rx)."""
        out = _ip('-n', self.namespace, '-s', '-j', 'link', 'show', 'dev', self.interface)
        stats = json.loads(out.stdout)[0]['stats64']
        return stats['tx']['bytes'], stats['rx']['bytes']

    def set_link(self, up: bool):
        """Set this host's end of the link up or down (down: the peer loses carrier too)."""
        _ip('-n', self.namespace, 'link', 'set', 'dev', self.interface,
            'up' if up else 'down')

    def stop_processes(self):
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()


class TwoHosts:
    """The robot and the workstation, joined by a veth pair; `close` removes everything.

    `rate_mbit` limits each direction of the link with `tc tbf` (queue of `QUEUE_SECONDS`);
    `multicast=False` drops every multicast packet sent on the link (an htb class of 8 bit/s
    with no queue, chosen by a u32 filter: this kernel has no drop action), so only unicast
    discovery (a discovery server) works.
    """

    def __init__(self, work: Path, rate_mbit: float | None = None, multicast: bool = True):
        reason = unavailable()
        if reason:
            raise HostsUnavailableError(reason)
        token = secrets.token_hex(3)
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        self.robot = Host('robot', f'isr-robot-{token}', f'isr{token}r', ROBOT_ADDRESS, work)
        self.workstation = Host('workstation', f'isr-workstation-{token}', f'isr{token}w',
                                WORKSTATION_ADDRESS, work)
        self.rate_mbit, self.multicast = rate_mbit, multicast
        self._made: list[Host] = []
        try:
            self._make()
        except (subprocess.CalledProcessError, OSError) as error:
            detail = getattr(error, 'stderr', '') or str(error)
            self.close()
            raise HostsUnavailableError(
                f'cannot make the network namespaces: {detail.strip()}') from None

    @property
    def hosts(self) -> tuple[Host, Host]:
        return self.robot, self.workstation

    def _make(self):
        for host in self.hosts:
            _ip('netns', 'add', host.namespace)
            self._made.append(host)
            host.shared_memory.mkdir()
        _ip('link', 'add', self.robot.interface, 'type', 'veth', 'peer', 'name',
            self.workstation.interface)
        for host in self.hosts:
            _ip('link', 'set', host.interface, 'netns', host.namespace)
            _ip('-n', host.namespace, 'addr', 'add', f'{host.address}/{PREFIX_LENGTH}',
                'dev', host.interface)
            _ip('-n', host.namespace, 'link', 'set', 'lo', 'up')
            host.set_link(True)
        self.shape(self.rate_mbit, self.multicast)

    def shape(self, rate_mbit: float | None, multicast: bool = True):
        """Set the link's rate limit (None: none) and whether multicast crosses it."""
        self.rate_mbit, self.multicast = rate_mbit, multicast
        for host in self.hosts:
            tc = ['tc', '-n', host.namespace]
            dev = ['dev', host.interface]
            subprocess.run([*tc, 'qdisc', 'del', *dev, 'root'], capture_output=True)
            limit = _tbf(rate_mbit) if rate_mbit else None
            if multicast and limit:
                _run([*tc, 'qdisc', 'add', *dev, 'root', 'handle', '1:', *limit])
            elif not multicast:
                _run([*tc, 'qdisc', 'add', *dev, 'root', 'handle', '1:', 'htb', 'default', '1'])
                _run([*tc, 'class', 'add', *dev, 'parent', '1:', 'classid', '1:1', 'htb',
                      'rate', '10gbit'])
                _run([*tc, 'class', 'add', *dev, 'parent', '1:', 'classid', '1:2', 'htb',
                      'rate', '8bit'])
                _run([*tc, 'qdisc', 'add', *dev, 'parent', '1:2', 'handle', '2:', 'pfifo',
                      'limit', '0'])
                _run([*tc, 'filter', 'add', *dev, 'parent', '1:', 'protocol', 'ip', 'u32',
                      'match', 'ip', 'dst', '224.0.0.0/4', 'flowid', '1:2'])
                if limit:
                    _run([*tc, 'qdisc', 'add', *dev, 'parent', '1:1', 'handle', '10:', *limit])

    def byte_counts(self) -> dict[str, int]:
        """Bytes sent by each host over the link so far: {'robot': n, 'workstation': n}."""
        return {host.name: host.byte_counts()[0] for host in self.hosts}

    def close(self):
        """Stop every process started here (SIGINT), then remove namespaces, link and /dev/shm."""
        for host in self.hosts:
            host.stop_processes()
        if self._made:  # a pair made but not yet moved into the namespaces is here
            _ip('link', 'del', self.robot.interface, check=False)
        for host in self._made:
            _ip('netns', 'del', host.namespace, check=False)  # takes the veth pair with it
            shutil.rmtree(host.shared_memory, ignore_errors=True)
        self._made.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _run(command: list[str]):
    subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)


def _tbf(rate_mbit: float) -> list[str]:
    """The tc arguments of a token bucket of `rate_mbit` with a 10 ms burst and a short queue."""
    rate_bytes = rate_mbit * 1e6 / 8
    burst = max(int(rate_bytes * 0.01), 16 * 1024)
    return ['tbf', 'rate', f'{rate_mbit:g}mbit', 'burst', str(burst),
            'latency', f'{QUEUE_SECONDS * 1000:g}ms']


def unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return 'network namespaces need root (ip netns add)'
    for tool in ('ip', 'tc', 'mount'):
        if shutil.which(tool) is None:
            return f'no `{tool}` command: install iproute2'
    return None


# --- the results listener, run inside a host -------------------------------------------------

def listen(topics: list[str], seconds: float):
    """Print one JSON line per message received on `topics` for `seconds`, then exit.

    Each topic is `NAME:KIND`, KIND one of `json` (std_msgs/String), `compressed`
    (sensor_msgs/CompressedImage), `image` (sensor_msgs/Image) or `diagnostics`. A line holds
    the topic, the arrival time (`time.time()`), the message's stamp and frame_id, its size in
    bytes, and for diagnostics the segmentation statuses' level, message and values.
    """
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image
    from std_msgs.msg import String

    kinds = {'json': String, 'compressed': CompressedImage, 'image': Image,
             'diagnostics': DiagnosticArray}
    rclpy.init()
    node = rclpy.create_node('two_hosts_listener')

    def record(topic, message):
        line = {'topic': topic, 'arrival': time.time()}
        if isinstance(message, DiagnosticArray):
            line['statuses'] = {
                status.name: {'level': ord(status.level), 'message': status.message,
                              **{value.key: value.value for value in status.values}}
                for status in message.status if 'segmentation' in status.name}
        elif isinstance(message, String):
            data = json.loads(message.data)
            header = data['header']
            line.update(stamp=header['stamp']['sec'] + header['stamp']['nanosec'] * 1e-9,
                        frame_id=header['frame_id'], bytes=len(message.data),
                        detections=len(data['detections']))
        else:
            line.update(stamp=message.header.stamp.sec + message.header.stamp.nanosec * 1e-9,
                        frame_id=message.header.frame_id, bytes=len(message.data))
        print(json.dumps(line), flush=True)

    for spec in topics:
        name, kind = spec.rsplit(':', 1)
        node.create_subscription(
            kinds[kind], name, lambda message, name=name: record(name, message),
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    print(json.dumps({'listening': topics}), flush=True)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def listener_command(topics: list[str], seconds: float = 3600.0) -> list[str]:
    """The command that runs `listen` (in a host: `Host.start(listener_command(...), ...)`)."""
    return [sys.executable, str(_SCRIPT), 'listen', str(seconds), *topics]


def received(process: HostProcess) -> list[dict]:
    """The lines a listener has printed so far."""
    lines = []
    for text in process.output().splitlines():
        if text.startswith('{'):
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:  # a line being written
                pass
    return [line for line in lines if 'topic' in line]


if __name__ == '__main__':
    if len(sys.argv) >= 4 and sys.argv[1] == 'listen':
        listen(sys.argv[3:], float(sys.argv[2]))
    else:
        raise SystemExit('usage: two_hosts.py listen SECONDS TOPIC:KIND...')
