//! `lineup admin ...`: set-up an operator does from a shell — tenants, users, API keys, keys for
//! secrets at rest. Every change is audited as the command that made it.

use anyhow::{bail, Context};
use clap::Subcommand;
use lineup_domain::{Actor, MemberChange, NewApiKey, NewMember, Role, Tenant, TenantSpec};
use lineup_security::TokenKind;
use lineup_store::{DynStore, StoreError};
use uuid::Uuid;

/// The admin commands.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a tenant (an organisation with its own queues, users and keys).
    CreateTenant {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Short name used at login: a-z, 0-9 and '-'.
        #[arg(long)]
        slug: String,
    },
    /// Create a user in a tenant (or add an existing account to it) with a role.
    CreateUser {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        /// Needed for a new account.
        #[arg(long)]
        email: Option<String>,
        /// Needed for a new account.
        #[arg(long)]
        full_name: Option<String>,
        /// admin, supervisor, analyst, agent, kiosk or display.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The password; a random one is generated and printed when absent. Prefer the
        /// LINEUP_ADMIN_PASSWORD variable to a flag (flags show in process lists).
        #[arg(long, env = "LINEUP_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Create an API key for a tenant with a role; prints the secret once.
    CreateApiKey {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// What the key is for, e.g. "CRM integration".
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Print a new key for `secret_keys` (encryption of stored third-party secrets).
    GenerateSecretKey {
        /// The key's id (letters and digits), used when keys are rotated.
        #[arg(long, default_value = "k1")]
        id: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "one of admin, supervisor, analyst, agent, kiosk, display".into())
}

const CLI: &str = "lineup admin";

/// Runs one admin command, printing what a person needs (ids, generated secrets).
pub async fn run(store: DynStore, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateTenant { name, slug } => {
            let tenant = create_tenant(&store, Uuid::now_v7(), &name, &slug).await?;
            println!("tenant {} created: id {}", tenant.slug, tenant.id);
        }
        AdminCommand::CreateUser { tenant, username, email, full_name, role, password } => {
            let tenant = tenant_by_slug(&store, &tenant).await?;
            let outcome = create_user(&store, &tenant, &username, email, full_name, role, password).await?;
            match outcome {
                UserOutcome::Created { password: Some(p) } => {
                    println!("user {username} created in {} as {role}; password: {p}", tenant.slug)
                }
                UserOutcome::Created { password: None } => {
                    println!("user {username} created in {} as {role}", tenant.slug)
                }
                UserOutcome::AddedExisting => println!("existing user {username} added to {} as {role}", tenant.slug),
            }
        }
        AdminCommand::CreateApiKey { tenant, name, role } => {
            let tenant = tenant_by_slug(&store, &tenant).await?;
            let secret = create_api_key(&store, tenant.id, &name, role).await?;
            println!("API key '{name}' ({role}) created in {}. Its secret, shown only now:", tenant.slug);
            println!("{secret}");
        }
        AdminCommand::GenerateSecretKey { .. } => return run_offline(command),
    }
    Ok(())
}

/// Runs the commands that need no database.
pub fn run_offline(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::GenerateSecretKey { id } => {
            if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                bail!("--id must be 1 to 255 letters or digits");
            }
            println!("{}", lineup_security::SecretKey::generate(&id));
            Ok(())
        }
        _ => bail!("this command needs the database"),
    }
}

async fn tenant_by_slug(store: &DynStore, slug: &str) -> anyhow::Result<Tenant> {
    match store.find_tenant_by_slug(slug).await {
        Err(StoreError::NotFound(_)) => {
            bail!("no tenant with slug '{slug}' (create it with `lineup admin create-tenant`)")
        }
        other => Ok(other?),
    }
}

/// Creates a tenant with `id`.
pub async fn create_tenant(store: &DynStore, id: Uuid, name: &str, slug: &str) -> anyhow::Result<Tenant> {
    let spec = TenantSpec::new(name, slug, None)?;
    Ok(store.create_tenant(&Actor::system(CLI), id, spec).await?)
}

/// What `create_user` did.
pub enum UserOutcome {
    /// A new account; `password` is set when it was generated.
    Created { password: Option<String> },
    /// The account existed and was added to the tenant.
    AddedExisting,
}

/// Creates an account in `tenant`, or adds an existing one to it.
pub async fn create_user(
    store: &DynStore,
    tenant: &Tenant,
    username: &str,
    email: Option<String>,
    full_name: Option<String>,
    role: Role,
    password: Option<String>,
) -> anyhow::Result<UserOutcome> {
    let normalised = lineup_domain::member::validate_username(username)?;
    if store.find_login(&normalised).await?.is_some() {
        store.add_membership(&Actor::system(CLI), tenant.id, &normalised, role).await?;
        return Ok(UserOutcome::AddedExisting);
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(lineup_security::generate_password);
    lineup_security::check_password_policy(&password, &normalised).context("password")?;
    let new = NewMember {
        username: normalised,
        email: email.context("--email is needed for a new account")?,
        full_name: full_name.context("--full-name is needed for a new account")?,
        password: password.clone(),
        role,
    };
    let spec = new.validate(Uuid::now_v7(), lineup_security::hash_password(&password))?;
    store.create_member(&Actor::system(CLI), tenant.id, spec).await?;
    Ok(UserOutcome::Created { password: generated.then_some(password) })
}

/// Sets a member's password (the demo resets its accounts' passwords on every start).
pub async fn set_password(store: &DynStore, tenant: Uuid, user_id: Uuid, password: &str) -> anyhow::Result<()> {
    let change = MemberChange { password_hash: Some(lineup_security::hash_password(password)), ..Default::default() };
    store.update_member(&Actor::system("lineup demo"), tenant, user_id, change).await?;
    Ok(())
}

/// Creates an API key and returns its secret.
pub async fn create_api_key(store: &DynStore, tenant: Uuid, name: &str, role: Role) -> anyhow::Result<String> {
    let issued = lineup_security::issue(TokenKind::ApiKey);
    let new = NewApiKey { name: name.into(), role, expires_at: None };
    let spec =
        new.validate(Uuid::now_v7(), issued.display_prefix.clone(), issued.hash.0, lineup_store::now_micros())?;
    store.create_api_key(&Actor::system(CLI), tenant, spec).await?;
    Ok(issued.plain)
}
