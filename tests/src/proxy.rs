//! A loopback TCP proxy that cuts connections, as bad mobile data does: after a random number
//! of bytes from the client, both sides of the connection are dropped. It counts every byte
//! the client sends, so a test can tell how much was sent again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy has seen.
#[derive(Debug, Default, Clone, Copy)]
pub struct Traffic {
    /// Bytes from clients, headers and all.
    pub sent: u64,
    /// Connections cut.
    pub cuts: u32,
}

#[derive(Debug)]
struct Plan {
    traffic: Traffic,
    /// Bytes still to pass before the next cut.
    until_cut: u64,
    cuts_left: u32,
    /// Cuts come after between `min` and `max` bytes, chosen by a xorshift from `seed`.
    min: u64,
    max: u64,
    seed: u64,
}

impl Plan {
    fn next_gap(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.min + self.seed % (self.max - self.min).max(1)
    }
}

/// A running proxy to `upstream`.
#[derive(Debug, Clone)]
pub struct CuttingProxy {
    pub addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
}

impl CuttingProxy {
    /// Proxies to `upstream`, cutting `cuts` times, each after `min..max` client bytes.
    pub async fn start(
        upstream: SocketAddr,
        cuts: u32,
        min: u64,
        max: u64,
        seed: u64,
    ) -> std::io::Result<CuttingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut plan = Plan {
            traffic: Traffic::default(),
            until_cut: 0,
            cuts_left: cuts,
            min,
            max,
            seed: seed | 1,
        };
        plan.until_cut = plan.next_gap();
        let proxy = CuttingProxy {
            addr: listener.local_addr()?,
            plan: Arc::new(Mutex::new(plan)),
        };
        let plan = proxy.plan.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let plan = plan.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, plan).await;
                    }
                });
            }
        });
        Ok(proxy)
    }

    pub fn traffic(&self) -> Traffic {
        self.plan
            .lock()
            .map(|plan| plan.traffic)
            .unwrap_or_default()
    }
}

/// Relays one connection until either side closes or the plan cuts it.
async fn relay(client: TcpStream, server: TcpStream, plan: Arc<Mutex<Plan>>) {
    let (mut client_in, mut client_out) = client.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_in, &mut client_out).await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(read) = client_in.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        // How much of this read passes before a cut, if one falls inside it.
        let (passing, cut) = {
            let Ok(mut plan) = plan.lock() else { break };
            let read = read as u64;
            // The client sent all it wrote, whether or not it passes.
            if plan.cuts_left > 0 && plan.until_cut <= read {
                let passing = plan.until_cut;
                plan.cuts_left -= 1;
                plan.traffic.cuts += 1;
                plan.traffic.sent += read;
                plan.until_cut = plan.next_gap();
                (passing, true)
            } else {
                plan.until_cut -= read.min(plan.until_cut);
                plan.traffic.sent += read;
                (read, false)
            }
        };
        let passing = usize::try_from(passing).unwrap_or(0);
        if server_out.write_all(&buffer[..passing]).await.is_err() || cut {
            break;
        }
    }
    // Dropping both halves of both sockets ends the connection on both sides.
    answers.abort();
}
