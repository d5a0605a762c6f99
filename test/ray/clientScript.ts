// The Ray client both real-Ray tests run: remote tasks pinned to nodes by NodeAffinity and a
// 50 MB object moved between two nodes. argv: the two node addresses (as Ray reports them:
// NodeManagerAddress), from and to. RAY_ADDRESS comes from the client pod's env.
export const MB50 = 50 * 1024 * 1024;

export const CLIENT_SCRIPT = String.raw`
import json, sys, time, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
src, dst = sys.argv[1], sys.argv[2]
ray.init()  # RAY_ADDRESS from the pod's env: ray://ray-head:10001
deadline = time.time() + 60
while True:
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) >= 2 or time.time() > deadline: break
    time.sleep(1)
by_addr = {n["NodeManagerAddress"]: n["NodeID"] for n in nodes}

@ray.remote(num_cpus=1)
def where():
    import socket
    return [socket.gethostname(), ray.util.get_node_ip_address()]

@ray.remote(num_cpus=1)
def make(n):
    return b"x" * n

@ray.remote(num_cpus=1)
def receive(blob):
    import socket
    return [len(blob), socket.gethostname()]

pin = lambda addr: Pin(by_addr[addr], soft=False)
ran = {a: ray.get(where.options(scheduling_strategy=pin(a)).remote(), timeout=90) for a in by_addr}
blob = make.options(scheduling_strategy=pin(src)).remote(${MB50})
moved = ray.get(receive.options(scheduling_strategy=pin(dst)).remote(blob), timeout=120)
print("RESULT " + json.dumps({"nodes": sorted(by_addr), "ran": ran, "moved": moved}))
`;
