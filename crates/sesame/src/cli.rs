//! `sesame cli`: a debugging xDS client, as Contour's `contour cli`. It subscribes to one
//! resource type on a running Sesame's xDS server (plain text, or mutual TLS with the files an
//! Envoy uses), prints each response as the protobuf JSON mapping (or YAML), acknowledges it,
//! and with `--watch` keeps following updates.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};
use sesame_envoy::ResourceType;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

mod render;

/// The name Sesame's serving certificate carries, as `sesame certgen` issues it (Contour's
/// client expects `contour` the same way).
const SERVER_NAME: &str = "sesame";

/// Flags of `sesame cli`, with Contour's names.
#[derive(Debug, Args)]
pub struct CliArgs {
    /// What to ask for.
    #[command(subcommand)]
    pub resources: Resources,
    /// Sesame's xDS server, `host:port`.
    #[arg(
        long,
        global = true,
        env = "CLI_SESAME",
        default_value = "127.0.0.1:8001"
    )]
    pub sesame: String,
    /// CA bundle that signed Sesame's serving certificate (mutual TLS: with the two below).
    #[arg(long, global = true, env = "CLI_CAFILE")]
    pub cafile: Option<PathBuf>,
    /// Client certificate to present (an Envoy's, or any the CA signed for client use).
    #[arg(long, global = true, env = "CLI_CERT_FILE")]
    pub cert_file: Option<PathBuf>,
    /// Key of the client certificate.
    #[arg(long, global = true, env = "CLI_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// The node ID to send.
    #[arg(long, global = true, env = "CLI_NODE_ID", default_value = "SesameCLI")]
    pub node_id: String,
    /// Keep the stream open and print every update, acknowledging each.
    #[arg(long, global = true)]
    pub watch: bool,
    /// Incremental (delta) xDS instead of state of the world.
    #[arg(long, global = true)]
    pub delta: bool,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Json)]
    pub output: Format,
}

/// The resource types, by their discovery service's short name.
#[derive(Debug, Subcommand)]
pub enum Resources {
    /// Listeners.
    Lds {
        /// Names to ask for; none for all.
        names: Vec<String>,
    },
    /// Route configurations.
    Rds {
        /// Names to ask for; none for all.
        names: Vec<String>,
    },
    /// Clusters.
    Cds {
        /// Names to ask for; none for all.
        names: Vec<String>,
    },
    /// Cluster load assignments (endpoints), by cluster name.
    Eds {
        /// Names to ask for; none for all.
        names: Vec<String>,
    },
    /// Secrets.
    Sds {
        /// Names to ask for; none for all.
        names: Vec<String>,
    },
    /// Virtual hosts of the delta route configurations (`<route config>/<domain>`).
    Vhds {
        /// Names to ask for; none for all.
        names: Vec<String>,
    },
    /// Scopes of `ingress_http` (`ingress_http/<host>`, and `ingress_http/*` for wildcard and
    /// default hosts), which Envoys on delta xDS route plain HTTP by; with `--delta`.
    Srds {
        /// Names to ask for; none for all.
        names: Vec<String>,
    },
    /// Which route and backend a request would take and why, with the Kubernetes object
    /// behind each (asks Sesame's debug port).
    Explain(ExplainArgs),
    /// The Kubernetes objects a cluster, secret, route configuration or virtual host was built
    /// from (asks Sesame's debug port).
    Sources(SourcesArgs),
}

/// Flags of `sesame cli sources`.
#[derive(Debug, Args)]
pub struct SourcesArgs {
    /// The resource's type.
    #[arg(value_enum)]
    pub r#type: SourceType,
    /// The resource's name, as `sesame cli cds|sds|rds` prints it (a host name for `vhds`).
    pub name: String,
    /// Sesame's debug port, `host:port`.
    #[arg(long, default_value = "127.0.0.1:6060")]
    pub debug_address: String,
}

/// The types `sesame cli sources` traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SourceType {
    /// A cluster.
    Cds,
    /// A TLS secret.
    Sds,
    /// A route configuration.
    Rds,
    /// A virtual host, by host name.
    Vhds,
}

/// Flags of `sesame cli explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The request's host (the `Host` header, or the SNI name with `--https`).
    #[arg(long)]
    pub host: String,
    /// The request's path, with a query string if any.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// The request's method.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// A request header, `Name: Value`; repeatable.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The request arrives over TLS (the HTTPS listener).
    #[arg(long)]
    pub https: bool,
    /// Sesame's debug port, `host:port` (`--debug-http-address`/`--debug-http-port` of serve).
    #[arg(long, default_value = "127.0.0.1:6060")]
    pub debug_address: String,
}

impl Resources {
    /// The xDS type and names asked for; `None` for `explain`, which is not an xDS request.
    fn split(&self) -> Option<(ResourceType, &[String])> {
        Some(match self {
            Resources::Lds { names } => (ResourceType::Listener, names),
            Resources::Rds { names } => (ResourceType::RouteConfiguration, names),
            Resources::Cds { names } => (ResourceType::Cluster, names),
            Resources::Eds { names } => (ResourceType::ClusterLoadAssignment, names),
            Resources::Sds { names } => (ResourceType::Secret, names),
            Resources::Vhds { names } => (ResourceType::VirtualHost, names),
            Resources::Srds { names } => (ResourceType::ScopedRouteConfiguration, names),
            Resources::Explain(_) | Resources::Sources(_) => return None,
        })
    }
}

/// How responses are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The protobuf JSON mapping, one pretty-printed document per response.
    Json,
    /// The same as YAML, documents separated by `---`.
    Yaml,
}

/// Runs `sesame cli`.
pub fn run(args: CliArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let Some(subscription) = args.resources.split() else {
            return match &args.resources {
                Resources::Explain(explain) => self::explain(explain, args.output).await,
                Resources::Sources(sources) => self::sources(sources, args.output).await,
                _ => bail!("nothing to ask for"),
            };
        };
        let channel = connect(&args).await?;
        let mut client =
            AggregatedDiscoveryServiceClient::new(channel).max_decoding_message_size(usize::MAX);
        if args.delta {
            delta(&mut client, &args, subscription).await
        } else {
            state_of_the_world(&mut client, &args, subscription).await
        }
    })
}

/// Connects to Sesame: plain text, or mutual TLS when the three files are given.
async fn connect(args: &CliArgs) -> anyhow::Result<Channel> {
    let tls = match (&args.cafile, &args.cert_file, &args.key_file) {
        (None, None, None) => None,
        (Some(ca), Some(cert), Some(key)) => Some(
            ClientTlsConfig::new()
                .domain_name(SERVER_NAME)
                .ca_certificate(Certificate::from_pem(read(ca, "--cafile")?))
                .identity(Identity::from_pem(
                    read(cert, "--cert-file")?,
                    read(key, "--key-file")?,
                )),
        ),
        _ => bail!("--cafile, --cert-file and --key-file go together: give all three or none"),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", args.sesame))
        .with_context(|| format!("--sesame {}", args.sesame))?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).context("TLS settings")?;
    }
    endpoint
        .connect()
        .await
        .with_context(|| format!("connecting to Sesame at {}", args.sesame))
}

fn read(path: &Path, flag: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{flag} {}", path.display()))
}

fn node(args: &CliArgs) -> Option<Node> {
    Some(Node {
        id: args.node_id.clone(),
        cluster: "sesame-cli".to_string(),
        ..Node::default()
    })
}

/// The names to subscribe to: those given, or the wildcard.
fn subscription(names: &[String]) -> Vec<String> {
    if names.is_empty() {
        vec!["*".to_string()]
    } else {
        names.to_vec()
    }
}

async fn state_of_the_world(
    client: &mut AggregatedDiscoveryServiceClient<Channel>,
    args: &CliArgs,
    (ty, names): (ResourceType, &[String]),
) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel(4);
    let mut request = DiscoveryRequest {
        node: node(args),
        type_url: ty.type_url().to_string(),
        resource_names: subscription(names),
        ..DiscoveryRequest::default()
    };
    tx.send(request.clone()).await?;
    let mut responses = client
        .stream_aggregated_resources(ReceiverStream::new(rx))
        .await
        .context("opening the xDS stream")?
        .into_inner();
    let mut first = true;
    while let Some(response) = responses.next().await {
        let response = response.context("xDS stream")?;
        print(&render::state_of_the_world(&response)?, args.output, first)?;
        first = false;
        if !args.watch {
            return Ok(());
        }
        // Acknowledge, so that Sesame sends the next change.
        request.node = None;
        request.version_info = response.version_info.clone();
        request.response_nonce = response.nonce.clone();
        if tx.send(request.clone()).await.is_err() {
            break;
        }
    }
    bail!("Sesame closed the stream")
}

async fn delta(
    client: &mut AggregatedDiscoveryServiceClient<Channel>,
    args: &CliArgs,
    (ty, names): (ResourceType, &[String]),
) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(DeltaDiscoveryRequest {
        node: node(args),
        type_url: ty.type_url().to_string(),
        resource_names_subscribe: subscription(names),
        ..DeltaDiscoveryRequest::default()
    })
    .await?;
    let mut responses = client
        .delta_aggregated_resources(ReceiverStream::new(rx))
        .await
        .context("opening the delta xDS stream")?
        .into_inner();
    let mut first = true;
    while let Some(response) = responses.next().await {
        let response = response.context("delta xDS stream")?;
        print(&render::delta(&response)?, args.output, first)?;
        first = false;
        if !args.watch {
            return Ok(());
        }
        let ack = DeltaDiscoveryRequest {
            type_url: ty.type_url().to_string(),
            response_nonce: response.nonce.clone(),
            ..DeltaDiscoveryRequest::default()
        };
        if tx.send(ack).await.is_err() {
            break;
        }
    }
    bail!("Sesame closed the stream")
}

/// Asks Sesame's debug port where the request would go, and prints the answer.
async fn explain(args: &ExplainArgs, format: Format) -> anyhow::Result<()> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("host", &args.host)
        .append_pair("path", &args.path)
        .append_pair("method", &args.method);
    for header in &args.headers {
        if !header.contains(':') {
            bail!("--header {header:?}: expected Name: Value");
        }
        query.append_pair("header", header);
    }
    if args.https {
        query.append_pair("https", "true");
    }
    let path = format!("/debug/explain?{}", query.finish());
    let value = debug_get(&args.debug_address, &path).await?;
    print(&value, format, true)
}

/// Asks Sesame's debug port which objects a resource was built from, and prints the answer.
async fn sources(args: &SourcesArgs, format: Format) -> anyhow::Result<()> {
    let ty = match args.r#type {
        SourceType::Cds => "cds",
        SourceType::Sds => "sds",
        SourceType::Rds => "rds",
        SourceType::Vhds => "vhds",
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("type", ty)
        .append_pair("name", &args.name)
        .finish();
    let value = debug_get(&args.debug_address, &format!("/debug/sources?{query}")).await?;
    print(&value, format, true)
}

/// One GET on Sesame's debug port, its JSON answer.
async fn debug_get(address: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .with_context(|| format!("connecting to Sesame's debug port at {address}"))?;
    let reply = crate::envoy::admin::send(stream, hyper::Method::GET, path).await?;
    if !reply.status.is_success() {
        bail!("Sesame answered {}: {}", reply.status, reply.body.trim());
    }
    serde_json::from_str(&reply.body).context("Sesame's answer")
}

/// Prints one response.
fn print(value: &serde_json::Value, format: Format, first: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, value)?;
            writeln!(out)?;
        }
        Format::Yaml => {
            if !first {
                writeln!(out, "---")?;
            }
            write!(out, "{}", serde_saphyr::to_string(value)?)?;
        }
    }
    out.flush()?;
    Ok(())
}
