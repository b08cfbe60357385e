//! The `apisendsms` binary: command line, settings, telemetry, and the wiring of the store,
//! the HTTP API and the background workers, with a graceful shutdown.
//!
//! Boundary: the only crate that knows every other crate; it holds no business rules.
#![forbid(unsafe_code)]

pub mod billing;
mod devices;
pub mod privacy;
pub mod settings;
mod smsc_sim;
mod tls;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use domain::routing::{Route, RouteTable};
use domain::{AccountId, IdGenerator, Money};
use prometheus_client::registry::Registry;
use settings::{ConnectorSettings, RouteSettings, Settings};
use store::{Store, StoreOptions};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use workers::sim_carrier::{SimCarrier, SimCarrierConfig};
use workers::{Connector, Dispatcher, DispatcherConfig, WorkerMetrics};

#[derive(Parser, Debug)]
#[command(
    name = "apisendsms",
    version,
    about = "SMS gateway with its privacy promises built in"
)]
pub struct Cli {
    /// TOML settings file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long, global = true, env = "APISENDSMS_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service.
    Serve {
        /// HTTP listen address.
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// Create a demo account and route every message to the built-in simulated carrier.
        #[arg(long)]
        demo: bool,
        /// Listen address of the SMPP server for customers (127.0.0.1:2776 with --demo).
        #[arg(long)]
        smpp: Option<std::net::SocketAddr>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS with a self-signed certificate made at start (development only).
        #[arg(long, conflicts_with = "tls_cert")]
        tls_self_signed: bool,
    },
    /// Customer accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// API keys.
    ApiKeys {
        #[command(subcommand)]
        command: ApiKeysCommand,
    },
    /// SMPP credentials of customers.
    SmppCredentials {
        #[command(subcommand)]
        command: SmppCredentialsCommand,
    },
    /// Run the SMSC simulator: a real SMPP server with receipts, throttling and MO messages.
    SmscSim(smsc_sim::SimArgs),
    /// Run the device agent: a GSM modem as the account's own delivery channel.
    Agent(devices::AgentArgs),
    /// Run a simulated GSM modem on a pseudo-terminal (for the agent, tests and demos).
    ModemSim(devices::ModemSimArgs),
    /// Bank statements and payments: import, the unpaired queue, staff pairing.
    Payments {
        #[command(subcommand)]
        command: billing::PaymentsCommand,
    },
    /// Price lists.
    Prices {
        #[command(subcommand)]
        command: billing::PricesCommand,
    },
    /// Invoices and credit notes.
    Invoices {
        #[command(subcommand)]
        command: billing::InvoicesCommand,
    },
    /// The audit log: verify its hash chain, list entries.
    Audit {
        #[command(subcommand)]
        command: privacy::AuditCommand,
    },
    /// Retention: run the job, the report, legal holds.
    Retention {
        #[command(subcommand)]
        command: privacy::RetentionCommand,
    },
    /// Data-subject requests, objections, tickets and lawful requests.
    Privacy {
        #[command(subcommand)]
        command: privacy::PrivacyCommand,
    },
    /// Users of the web app and back office.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand, Debug)]
enum UsersCommand {
    /// Give a registered web user a role: customer, support, billing, dpo or admin.
    SetRole {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
enum SmppCredentialsCommand {
    /// Create SMPP credentials for an account; prints JSON with `system_id` and `password`
    /// (shown only now).
    Create {
        #[arg(long)]
        account: i64,
    },
}

#[derive(Subcommand, Debug)]
enum AccountsCommand {
    /// Create an account and its first API key; prints JSON with `account_id` and `api_key`.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Initial credit, e.g. "500.00".
        #[arg(long, default_value = "0")]
        credit_czk: String,
        /// The operator's staff: may erase and restrict recipients (`/v1/recipients/*`).
        #[arg(long)]
        staff: bool,
    },
    /// End the account's contract (recorded on the account and in the audit log; API keys are
    /// revoked). The retention periods of former customers run from now.
    Close {
        #[arg(long)]
        account: i64,
        #[arg(long)]
        reason: String,
    },
    /// Reopen a closed account: its contract runs again and the recorded end is cleared.
    Reopen {
        #[arg(long)]
        account: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
enum ApiKeysCommand {
    /// Create another API key; prints JSON with `account_id` and `api_key` (shown only now).
    Create {
        #[arg(long)]
        account: i64,
    },
}

pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(url) = &cli.database_url {
        settings.database_url = url.clone();
    }
    init_tracing(&settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                http,
                demo,
                smpp,
                tls_cert,
                tls_key,
                tls_self_signed,
            } => {
                if let Some(http) = http {
                    settings.http = http;
                }
                if let Some(smpp) = smpp {
                    settings.smpp_listen = Some(smpp);
                }
                let tls = match (tls_cert, tls_key) {
                    (Some(cert), Some(key)) => Some(tls::from_files(&cert, &key).await?),
                    _ if tls_self_signed => Some(tls::self_signed().await?),
                    _ => None,
                };
                serve(settings, demo, tls).await
            }
            Command::SmppCredentials {
                command: SmppCredentialsCommand::Create { account },
            } => {
                let store = connect(&settings).await?;
                let account = AccountId::new(account);
                anyhow::ensure!(store.account_exists(account).await?, "no account {account}");
                let ids = IdGenerator::new(settings.node_id);
                let new = api::smpp_credentials::create(&store, ids.next(), account)
                    .await
                    .map_err(|e| anyhow::anyhow!("creating SMPP credentials: {}", e.detail()))?;
                println!(
                    "{}",
                    serde_json::json!({
                        "account_id": account,
                        "system_id": new.credential.system_id,
                        "password": new.password,
                    })
                );
                Ok(())
            }
            Command::Accounts {
                command:
                    AccountsCommand::Create {
                        email,
                        name,
                        credit_czk,
                        staff,
                    },
            } => {
                let credit = Money::parse(&credit_czk)
                    .context("--credit-czk must be an amount such as 500.00")?;
                anyhow::ensure!(!credit.is_negative(), "--credit-czk cannot be negative");
                let store = connect(&settings).await?;
                let ids = IdGenerator::new(settings.node_id);
                let account = AccountId::new(ids.next());
                store
                    .create_account(account, &email, &name, credit, store::now_us())
                    .await
                    .context("creating the account")?;
                if staff {
                    store.set_staff(account, true).await?;
                }
                let key = new_api_key(&store, &ids, account).await?;
                println!(
                    "{}",
                    serde_json::json!({"account_id": account, "api_key": key})
                );
                Ok(())
            }
            Command::Accounts {
                command: AccountsCommand::Close { account, reason },
            } => {
                anyhow::ensure!(!reason.trim().is_empty(), "--reason must say why");
                let store = connect(&settings).await?;
                anyhow::ensure!(
                    store
                        .close_account(AccountId::new(account), "cli", reason.trim(), store::now_us())
                        .await?,
                    "no open account {account}"
                );
                let ended = store.contract_ended_at(AccountId::new(account)).await?;
                println!(
                    "{}",
                    serde_json::json!({"account_id": account.to_string(), "contract_ended_at": ended})
                );
                Ok(())
            }
            Command::Accounts {
                command: AccountsCommand::Reopen { account, reason },
            } => {
                anyhow::ensure!(!reason.trim().is_empty(), "--reason must say why");
                let store = connect(&settings).await?;
                anyhow::ensure!(
                    store
                        .reopen_account(AccountId::new(account), "cli", reason.trim(), store::now_us())
                        .await?,
                    "account {account} is not closed (or its record is erased)"
                );
                println!(
                    "{}",
                    serde_json::json!({"account_id": account.to_string(), "reopened": true})
                );
                Ok(())
            }
            Command::SmscSim(args) => smsc_sim::run(args).await,
            Command::Agent(args) => devices::agent(args).await,
            Command::ModemSim(args) => devices::modem_sim(args).await,
            Command::Payments { command } => {
                let store = connect(&settings).await?;
                billing::payments(&store, &settings.billing, command).await
            }
            Command::Prices { command } => {
                let store = connect(&settings).await?;
                billing::prices(&store, command).await
            }
            Command::Invoices { command } => {
                let store = connect(&settings).await?;
                billing::invoices(&store, &settings.billing, command).await
            }
            Command::Audit { command } => {
                let store = connect(&settings).await?;
                privacy::audit(&store, command).await
            }
            Command::Retention { command } => {
                let store = connect(&settings).await?;
                privacy::retention(&store, command).await
            }
            Command::Privacy { command } => {
                let store = connect(&settings).await?;
                let ids = IdGenerator::new(settings.node_id);
                privacy::privacy(&store, &ids, &settings.default_region, command).await
            }
            Command::Users {
                command: UsersCommand::SetRole { email, role },
            } => {
                anyhow::ensure!(
                    ["customer", "support", "billing", "dpo", "admin"].contains(&role.as_str()),
                    "--role must be customer, support, billing, dpo or admin"
                );
                let store = connect(&settings).await?;
                let email = email.trim().to_lowercase();
                anyhow::ensure!(
                    store.set_web_user_role(&email, &role).await?,
                    "no web user with the e-mail {email}"
                );
                println!("{}", serde_json::json!({"email": email, "role": role}));
                Ok(())
            }
            Command::ApiKeys {
                command: ApiKeysCommand::Create { account },
            } => {
                let store = connect(&settings).await?;
                let account = AccountId::new(account);
                anyhow::ensure!(store.account_exists(account).await?, "no account {account}");
                let ids = IdGenerator::new(settings.node_id);
                let key = new_api_key(&store, &ids, account).await?;
                println!(
                    "{}",
                    serde_json::json!({"account_id": account, "api_key": key})
                );
                Ok(())
            }
        }
    })
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("APISENDSMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The Blacklist key from the settings: the key, else the key file, else (SQLite only) the
/// store's key file beside the database.
fn blacklist_key(settings: &Settings) -> anyhow::Result<Option<store::BlacklistKey>> {
    if let Some(key) = &settings.blacklist_key {
        return Ok(Some(
            store::BlacklistKey::new(key.expose().as_bytes().to_vec())
                .context("blacklist_key must have at least 16 characters")?,
        ));
    }
    if let Some(path) = &settings.blacklist_key_file {
        return Ok(Some(
            store::BlacklistKey::load_or_create(path)
                .with_context(|| format!("reading the blacklist key file {}", path.display()))?,
        ));
    }
    anyhow::ensure!(
        settings.database_url.starts_with("sqlite:"),
        "set APISENDSMS_BLACKLIST_KEY (or blacklist_key_file): with PostgreSQL the key of the \
         Blacklist's number hashes must come from the configuration"
    );
    Ok(None)
}

async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    let options = StoreOptions {
        blacklist_key: blacklist_key(settings)?,
        ..StoreOptions::default()
    };
    Store::connect(&settings.database_url, options)
        .await
        .with_context(|| format!("opening the database {}", redact(&settings.database_url)))
}

/// The database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn new_api_key(
    store: &Store,
    ids: &IdGenerator,
    account: AccountId,
) -> anyhow::Result<String> {
    let key = api::keys::generate();
    store
        .create_api_key(
            ids.next(),
            account,
            &api::keys::hash(&key),
            &api::keys::display_prefix(&key),
            store::now_us(),
        )
        .await
        .context("storing the API key")?;
    Ok(key)
}

const DEMO_EMAIL: &str = "demo@apisendsms.local";

/// Groups of fresh messages that may wait for the dispatcher; beyond them, fresh messages are
/// stored `queued` and claimed from the database.
const FRESH_GROUPS: usize = 16;

/// Creates the demo account once; each start rotates its API key and prints the new one.
async fn demo_account(store: &Store, ids: &IdGenerator) -> anyhow::Result<()> {
    let account = match store.account_by_email(DEMO_EMAIL).await? {
        Some(a) => a,
        None => {
            let a = AccountId::new(ids.next());
            store
                .create_account(
                    a,
                    DEMO_EMAIL,
                    "Demo",
                    Money::from_hundredths(100_000),
                    store::now_us(),
                )
                .await?;
            a
        }
    };
    store.revoke_api_keys(account, store::now_us()).await?;
    let key = new_api_key(store, ids, account).await?;
    println!("demo account {account}, API key (replaced at every --demo start): {key}");
    for c in store.list_smpp_credentials(account).await? {
        if c.revoked_at.is_none() {
            store
                .revoke_smpp_credential(account, c.id, store::now_us())
                .await?;
        }
    }
    let smpp = api::smpp_credentials::create(store, ids.next(), account)
        .await
        .map_err(|e| anyhow::anyhow!("creating SMPP credentials: {}", e.detail()))?;
    println!(
        "demo SMPP credentials (replaced at every --demo start): system_id {} password {}",
        smpp.credential.system_id, smpp.password
    );
    Ok(())
}

/// A fresh admin token for this demo run; only its hash is kept.
fn demo_admin_token(settings: &mut Settings) {
    if settings.admin_token_sha256.is_none() {
        let token = api::keys::generate().replacen(api::keys::PREFIX, "adm_", 1);
        settings.admin_token_sha256 = Some(api::keys::hash(&token));
        println!("demo admin token for /v1/admin (this run only): {token}");
    }
}

async fn serve(
    mut settings: Settings,
    demo: bool,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
) -> anyhow::Result<()> {
    // The numbering plan loads in about 150 ms: at startup, not in the first request.
    tokio::task::spawn_blocking({
        let region = settings.default_region.clone();
        move || sms::Msisdn::preload(&region)
    });
    let store = connect(&settings).await?;
    let ids = Arc::new(IdGenerator::new(settings.node_id));
    let node = i64::from(settings.node_id);
    let requeued = store.requeue_in_doubt(node, store::now_us()).await?;
    // An upload that another node may still be reading has moved within the last minutes.
    let stale = store::now_us() - 10 * 60 * 1_000_000;
    store
        .fail_interrupted_imports(stale, store::now_us())
        .await?;
    if requeued > 0 {
        tracing::warn!(
            requeued,
            "messages left in sending by the previous run are queued again"
        );
    }
    // The demo carrier: the SMSC simulator in this process, reached over real SMPP on loopback.
    let sim_stop = CancellationToken::new();
    if demo {
        demo_account(&store, &ids).await?;
        demo_admin_token(&mut settings);
        settings
            .smpp_listen
            .get_or_insert(std::net::SocketAddr::from(([127, 0, 0, 1], 2776)));
        if settings.connectors.is_empty() {
            let sim = smpp::sim::Sim::new(smpp::sim::SimConfig::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            let stop = sim_stop.clone();
            tokio::spawn(async move { sim.run(listener, stop.cancelled_owned()).await });
            settings
                .connectors
                .push(ConnectorSettings::Smpp(carrier::SmppCarrierConfig::new(
                    "smsc-sim",
                    "127.0.0.1",
                    port,
                    "demo",
                    "demo",
                )));
            settings.routes.push(RouteSettings {
                prefix: String::new(),
                connector: "smsc-sim".into(),
                priority: 0,
            });
            tracing::info!(port, "demo: SMSC simulator on loopback");
        }
    }

    let mut registry = Registry::default();
    let api_metrics = api::ApiMetrics::register(&mut registry);
    let worker_metrics = WorkerMetrics::register(&mut registry);
    let webhook_metrics = webhooks::WebhookMetrics::register(&mut registry);
    let device_metrics = ::devices::DeviceMetrics::register(&mut registry);
    let webhook_config = settings.webhooks.config()?;
    let webhook_key = webhook_key(&settings)?.map(Arc::new);
    let registry = Arc::new(Mutex::new(registry));

    let (events_tx, events_rx) = mpsc::channel(100_000);
    let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
    let mut kinds: Vec<&'static str> = Vec::new();
    for c in &settings.connectors {
        kinds.push(match c {
            ConnectorSettings::Smpp(_) => "smpp",
            ConnectorSettings::Sim { .. } => "sim",
        });
        connectors.push(match c {
            ConnectorSettings::Smpp(config) => Arc::new(
                carrier::SmppCarrier::start(config.clone(), events_tx.clone())
                    .with_context(|| format!("connector {}", config.name))?,
            ),
            ConnectorSettings::Sim {
                name,
                receipt_delay_ms,
                undeliverable_per_mille,
            } => Arc::new(SimCarrier::new(
                SimCarrierConfig {
                    name: name.clone(),
                    receipt_delay: Duration::from_millis(*receipt_delay_ms),
                    undeliverable_per_mille: *undeliverable_per_mille,
                },
                events_tx.clone(),
            )),
        });
    }
    drop(events_tx);
    let routes = RouteTable::new(
        settings
            .routes
            .iter()
            .map(|r| Route {
                prefix: r.prefix.clone(),
                connector: r.connector.clone(),
                priority: r.priority,
            })
            .collect(),
    )?;
    for r in routes.routes() {
        anyhow::ensure!(
            connectors.iter().any(|c| c.name() == r.connector),
            "route {:?} names an unknown connector {:?}",
            r.prefix,
            r.connector
        );
    }

    let shutdown = CancellationToken::new();
    let wake = Arc::new(Notify::new());
    // Customers' own phones and modems: connected to this node's hub, reached by `route =
    // device` messages.
    let hub = ::devices::Hub::new(
        store.clone(),
        ids.clone(),
        settings.keywords.keywords(),
        settings.devices.config()?,
        device_metrics,
    );
    let device_connector = Arc::new(::devices::DeviceConnector::new(hub.clone()));
    // The carriers and the device channel, as operators see them (the route table names only
    // carriers).
    let mut channels = connectors.clone();
    channels.push(device_connector.clone());
    let dispatcher = Arc::new(
        Dispatcher::new(
            store.clone(),
            routes,
            connectors.clone(),
            DispatcherConfig {
                node,
                batch: settings.dispatch.batch,
                concurrency: settings.dispatch.concurrency,
                lease: Duration::from_secs(settings.dispatch.lease_s),
                max_attempts: settings.dispatch.max_attempts,
                ..DispatcherConfig::default()
            },
            worker_metrics.clone(),
        )
        .with_devices(device_connector.clone()),
    );
    // Shutdown order: HTTP stops taking requests, dispatchers finish the batch in hand,
    // connectors report what they owe, then the receipt worker drains and stops.
    // Messages that can go at once are claimed by the commit that stores them and handed to
    // the dispatcher; the store wakes it for the others.
    dispatcher
        .take_fresh_messages(FRESH_GROUPS, wake.clone())
        .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..settings.dispatch.workers.max(1) {
        tasks.spawn(dispatcher.clone().run(wake.clone(), shutdown.clone()));
    }
    let receipts_stop = CancellationToken::new();
    let receipts_task = tokio::spawn(workers::events::run(
        store.clone(),
        ids.clone(),
        events_rx,
        worker_metrics.clone(),
        settings.keywords.keywords(),
        receipts_stop.clone(),
    ));
    tasks.spawn(workers::connector::report_state(
        channels.clone(),
        worker_metrics.clone(),
        Duration::from_secs(1),
        shutdown.clone(),
    ));
    tasks.spawn(billing::run_worker(
        store.clone(),
        ids.clone(),
        settings.billing.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(workers::maintenance::run(
        store.clone(),
        Duration::from_secs(1),
        worker_metrics,
        shutdown.clone(),
    ));
    // Retention (seed clause 4): once a day, in batches that never hold the writer for long.
    tasks.spawn(privacy::daily_retention(store.clone(), shutdown.clone()));
    // Webhooks: the fan-out turns feed events into deliveries, the sender posts them; both
    // stop with the dispatchers (an attempt in flight finishes first).
    tasks.spawn(
        webhooks::fanout::FanOut::new(
            store.clone(),
            ids.clone(),
            &webhook_config,
            webhook_metrics.clone(),
        )
        .run(webhook_config.poll, shutdown.clone()),
    );
    if let Some(key) = &webhook_key {
        let sender = webhooks::sender::Sender::new(
            store.clone(),
            key.clone(),
            webhook_config.clone(),
            webhook_metrics,
        )
        .context("the webhook sender")?;
        tasks.spawn(sender.run(shutdown.clone()));
    }

    let api_settings = api::ApiSettings {
        pricing: domain::pricing::FlatPricing::new(
            Money::parse(&settings.price_per_part_czk)
                .context("price_per_part_czk must be an amount")?,
        ),
        default_sender: settings.default_sender.clone(),
        default_region: settings.default_region.clone(),
        default_validity: Duration::from_secs(settings.default_validity_s),
        max_parts: settings.max_parts,
        max_recipients: settings.max_recipients,
        rate_limit_per_second: settings.rate_limit_per_second,
        rate_limit_burst: settings
            .rate_limit_burst
            .max(settings.rate_limit_per_second),
        body_limit_bytes: settings.body_limit_bytes,
        admin_token_sha256: settings.admin_token_sha256.clone(),
        billing: settings.billing.api()?,
        ..api::ApiSettings::default()
    };
    let state = api::AppState::new(store.clone(), api_settings, ids, registry, api_metrics);
    state.set_connectors({
        let connectors: Vec<(Arc<dyn Connector>, &'static str)> =
            connectors.iter().cloned().zip(kinds).collect();
        let device = device_connector.clone();
        Arc::new(move || {
            let online = device.hub().online_count();
            connectors
                .iter()
                .cloned()
                .chain(std::iter::once((
                    device.clone() as Arc<dyn Connector>,
                    "device",
                )))
                .map(|(c, kind)| {
                    let load = c.load();
                    api::ConnectorStatus {
                        name: c.name().to_owned(),
                        kind: kind.to_owned(),
                        up: c.is_up(),
                        window_in_use: load.window_in_use,
                        submitted_last_second: load.submitted_last_second,
                        submitted_total: load.submitted_total,
                        devices: (kind == "device")
                            .then_some(api::DeviceChannelStatus { online, total: 0 }),
                    }
                })
                .collect()
        })
    });
    let smpp_task = match settings.smpp_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the SMPP server to {addr}"))?;
            println!("SMPP server for customers on {}", listener.local_addr()?);
            let edge = smpp_edge::Edge::new(
                state.clone(),
                smpp_edge::EdgeConfig {
                    marketing_tlv: settings.smpp_marketing_tlv,
                    ..smpp_edge::EdgeConfig::default()
                },
            );
            Some(tokio::spawn(edge.run(listener, shutdown.child_token())))
        }
        None => None,
    };
    if let Some(key) = webhook_key {
        state.set_webhook_key(key);
    }
    let web_state =
        web::WebState::new(state.clone(), settings.web.clone(), channels, tls.is_some())?;
    web_state.set_devices(hub.clone());
    let mut app = api::router(state.clone()).merge(::devices::http::router(
        state,
        hub,
        ::devices::http::HttpConfig {
            https: tls.is_some(),
        },
    ));
    if settings.web.enabled {
        app = app.merge(web::router(web_state));
    }
    let app = app.layer(axum::extract::DefaultBodyLimit::max(
        settings.body_limit_bytes,
    ));
    let listener = tokio::net::TcpListener::bind(settings.http)
        .await
        .with_context(|| format!("binding {}", settings.http))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, database = %redact(&settings.database_url), "apisendsms listening");
    println!("apisendsms listening on {scheme}://{addr}");

    let signal_token = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests and the batches in hand");
        signal_token.cancel();
    });
    let http_token = shutdown.clone();
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(async move { http_token.cancelled().await })
            .await
            .context("HTTP server")?,
        Some(config) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                http_token.cancelled().await;
                stopper.graceful_shutdown(Some(Duration::from_secs(30)));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, config)
                .handle(handle)
                .serve(app)
                .await
                .context("HTTPS server")?
        }
    }
    shutdown.cancel();
    if let Some(task) = smpp_task {
        let _ = task.await;
    }
    while tasks.join_next().await.is_some() {}
    for c in &connectors {
        if tokio::time::timeout(Duration::from_secs(30), c.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(connector = c.name(), "connector did not finish in time");
        }
    }
    receipts_stop.cancel();
    let _ = receipts_task.await;
    sim_stop.cancel();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The key that encrypts webhook secrets: `secrets_key`, else the key file
/// (`webhooks.key_file`, or `secrets.key` next to the SQLite database, created on first start).
/// PostgreSQL without a configured key has no webhooks: nodes must share one key.
fn webhook_key(settings: &Settings) -> anyhow::Result<Option<webhooks::SecretsKey>> {
    if let Some(hex_key) = &settings.secrets_key {
        return webhooks::SecretsKey::from_hex(hex_key.expose())
            .context("secrets_key (APISENDSMS_SECRETS_KEY)")
            .map(Some);
    }
    let file = match &settings.webhooks.key_file {
        Some(path) => Some(path.clone()),
        None => sqlite_path(&settings.database_url).map(|db| {
            db.parent()
                .map(|d| d.join("secrets.key"))
                .unwrap_or_else(|| PathBuf::from("secrets.key"))
        }),
    };
    match file {
        Some(path) => webhooks::SecretsKey::load_or_create(&path)
            .context("the webhook secrets key file")
            .map(Some),
        None => {
            tracing::warn!(
                "no secrets_key (APISENDSMS_SECRETS_KEY) is set: webhooks cannot be created \
                 or sent on this node"
            );
            Ok(None)
        }
    }
}

/// The file of a `sqlite://PATH?...` URL; `None` for PostgreSQL and in-memory databases.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn the_key_file_lives_next_to_the_sqlite_database() {
        use super::sqlite_path;
        use std::path::PathBuf;
        assert_eq!(
            sqlite_path("sqlite://./data/apisendsms.db?mode=rwc"),
            Some(PathBuf::from("./data/apisendsms.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://./data/x.db"), "sqlite://./data/x.db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
