//! A 3-node JetStream cluster on loopback for the tests: each node with its own config
//! (`server_name`, `jetstream { store_dir }`, `cluster { name, listen, routes }`) and store,
//! killed on drop; nodes can be SIGKILLed and restarted on the same store.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{WAIT, free_port, server_binary};

/// One `nats-server` of the cluster.
pub struct Node {
    pub name: String,
    port: u16,
    monitor_port: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl Node {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn spawn(&mut self) {
        let child = Command::new(server_binary())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start nats-server");
        self.child = Some(child);
    }

    /// SIGKILLs the node (its store survives).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `/healthz` answers 200: the server is up and its JetStream is current with the cluster.
    pub fn healthy(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.monitor_port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let mut response = String::new();
        let _ = s.read_to_string(&mut response);
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
    }
}

/// Three nodes routed to each other, each with its own store, killed on drop.
pub struct Cluster {
    pub nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<(u16, u16, u16)> = (0..3)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, cluster, _)| format!("nats-route://127.0.0.1:{cluster}"))
            .collect();
        let mut nodes = Vec::new();
        for (i, (port, cluster_port, monitor_port)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(
                &config,
                format!(
                    "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor_port}\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{\n  name: lede-test\n  listen: 127.0.0.1:{cluster_port}\n  routes: [{}]\n}}\n",
                    store.display(),
                    routes.join(", ")
                ),
            )
            .expect("write config");
            nodes.push(Node {
                name,
                port: *port,
                monitor_port: *monitor_port,
                config,
                child: None,
            });
        }
        let mut cluster = Self { nodes, _dir: dir };
        for node in &mut cluster.nodes {
            node.spawn();
        }
        for i in 0..3 {
            cluster.wait_healthy(i);
        }
        cluster
    }

    /// Every node's URL.
    pub fn url_list(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// Every node's URL, comma-separated (as `--nats-url` takes them).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn wait_healthy(&self, i: usize) {
        let deadline = Instant::now() + WAIT;
        while !self.nodes[i].healthy() {
            assert!(
                Instant::now() < deadline,
                "node {} not healthy within {WAIT:?}",
                self.nodes[i].name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn index_of(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node named {name}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }
}

/// A client that knows every node (it rides out the loss of any one).
pub async fn cluster_client(urls: &str) -> async_nats::Client {
    let addrs = lede::transport::server_addrs(urls).expect("cluster URLs");
    tokio::time::timeout(WAIT, async_nats::connect(addrs))
        .await
        .expect("connect timed out")
        .expect("connect failed")
}
