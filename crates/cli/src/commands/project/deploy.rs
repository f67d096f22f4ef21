//! `wisp project deploy DIR`: read and build the project (nothing is sent if any build fails),
//! compare each entity's digest with the server's and each `web/` file's with the site's
//! record, print the plan, then apply it: entities in order, then the site (`web`). Every
//! write is one whole entity or file, so a failure leaves each old or new, never half.

use std::path::Path;

use anyhow::Context;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;
use wisp_project::{build_action, build_lib, deploy_order, put, Project};

use super::plan::{deployed, plan, Change, Entity, Step};
use super::read_project;
use super::web::{self, WebPlan};
use crate::client::Client;
use crate::commands::entity::own_namespace;
use crate::config::Config;
use crate::names::encode_segment;
use crate::output::{self, Printer};

/// Page size of the listings read to plan (OpenWhisk's largest).
const PAGE: usize = 200;

pub async fn run(
    dir: &Path,
    env_file: Option<&Path>,
    prune: bool,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let project = read_project(dir, env_file)?;
    let client = Client::new(config)?;
    let namespace = match &project.target_namespace {
        Some(target) => target.clone(),
        None => own_namespace(config, &client).await,
    };
    let steps = prepare(&project, &namespace, &client, prune).await?;
    let site = web::plan(&project, &namespace, &client, prune).await?;
    if !config.json {
        print_plan(&project, &namespace, &steps, site.as_ref(), printer)?;
    }
    let mut applied = apply(&namespace, &steps, &client, config.json, printer).await?;
    let web_summary = site
        .as_ref()
        .map(|s| (s.upload.len(), s.unchanged, s.delete.len()));
    if let Some(site) = site {
        applied += web::apply(site, &namespace, &client, config.json, printer)
            .await
            .context("deploy stopped in the web content (the functions were deployed)")?;
    }
    let base = config.base_url()?;
    let (own_url, path_url) = web::site_urls(&base, &namespace);
    let site_url = own_url.unwrap_or(path_url);
    let count = |c: Change| steps.iter().filter(|s| s.change == c).count();
    if config.json {
        let names = |c: Change| {
            steps
                .iter()
                .filter(|s| s.change == c)
                .map(|s| json!({"entity": s.entity.to_string(), "name": s.name}))
                .collect::<Vec<_>>()
        };
        return printer.json(&json!({
            "project": project.name,
            "namespace": namespace,
            "created": names(Change::Create),
            "updated": names(Change::Update),
            "unchanged": names(Change::Unchanged),
            "deleted": names(Change::Delete),
            "kept": names(Change::Keep),
            "web": web_summary.map(|(uploaded, unchanged, deleted)| json!({
                "uploaded": uploaded, "unchanged": unchanged, "deleted": deleted, "url": site_url,
            })),
        }));
    }
    printer.line(format!(
        "ok: deployed project {} to namespace {namespace}: {} created, {} updated, {} unchanged, {} deleted ({applied} requests)",
        project.name,
        count(Change::Create),
        count(Change::Update),
        count(Change::Unchanged),
        count(Change::Delete),
    ))?;
    if let Some((uploaded, unchanged, deleted)) = web_summary {
        printer.line(format!(
            "ok: web content: {uploaded} uploaded, {unchanged} unchanged, {deleted} deleted"
        ))?;
        printer.line(format!("site: {site_url}"))?;
    }
    Ok(())
}

/// Builds every action (all before anything is sent) and plans against the server.
async fn prepare(
    project: &Project,
    namespace: &str,
    client: &Client,
    prune: bool,
) -> anyhow::Result<Vec<Step>> {
    build_lib(project)?;
    let mut actions = Vec::new();
    for action in deploy_order(project, namespace)? {
        let built = build_action(project, action)?;
        let stamped = put::action(&project.name, action, built.as_ref(), namespace);
        actions.push((action.path(), stamped));
    }
    let packages = project
        .packages
        .iter()
        .filter(|p| !p.is_default)
        .map(|p| (p.name.clone(), put::package(&project.name, p)))
        .collect();
    let ns = encode_segment(namespace);
    let server_packages = list_all(client, &format!("namespaces/{ns}/packages")).await?;
    let server_actions = list_all(client, &format!("namespaces/{ns}/actions")).await?;
    let server = deployed(&server_packages, &server_actions);
    Ok(plan(&project.name, packages, actions, &server, prune))
}

/// Every entity of a collection, page by page.
async fn list_all<T: DeserializeOwned + Default>(
    client: &Client,
    path: &str,
) -> anyhow::Result<Vec<T>> {
    let mut all = Vec::new();
    loop {
        let query = [("limit", PAGE.to_string()), ("skip", all.len().to_string())];
        let page = client
            .get(path, &query)
            .await
            .with_context(|| format!("cannot list {path} to plan the deploy"))?;
        let items: Vec<T> = output::documents(&page);
        let done = items.len() < PAGE;
        all.extend(items);
        if done {
            return Ok(all);
        }
    }
}

fn print_plan(
    project: &Project,
    namespace: &str,
    steps: &[Step],
    site: Option<&WebPlan>,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    printer.line(format!(
        "plan: project {} to namespace {namespace}",
        project.name
    ))?;
    for step in steps {
        let note = match step.change {
            Change::Keep => "  (no longer in the project; --prune deletes it)",
            _ => "",
        };
        printer.line(format!(
            "  {:<9} {:<7} {}{note}",
            step.change.word(),
            step.entity,
            step.name
        ))?;
    }
    if let Some(site) = site {
        for file in &site.upload {
            printer.line(format!("  {:<9} {:<7} {}", "upload", "web", file.key))?;
        }
        for key in &site.delete {
            printer.line(format!("  {:<9} {:<7} {key}", "delete", "web"))?;
        }
        for key in &site.keep {
            printer.line(format!(
                "  {:<9} {:<7} {key}  (no longer in the project; --prune deletes it)",
                "keep", "web"
            ))?;
        }
        if site.unchanged > 0 {
            printer.line(format!("  unchanged web     {} files", site.unchanged))?;
        }
        if site.settings.is_some() {
            printer.line(format!("  {:<9} {:<7} site settings", "update", "web"))?;
        }
    }
    Ok(())
}

/// Sends the plan's writes and deletions in order; the number of requests sent.
async fn apply(
    namespace: &str,
    steps: &[Step],
    client: &Client,
    quiet: bool,
    printer: &mut Printer,
) -> anyhow::Result<usize> {
    let work: Vec<&Step> = steps
        .iter()
        .filter(|s| matches!(s.change, Change::Create | Change::Update | Change::Delete))
        .collect();
    for (i, step) in work.iter().enumerate() {
        let path = entity_path(namespace, step);
        let result = match &step.body {
            Some(body) => {
                let query = [("overwrite", "true".to_string())];
                client.put(&path, &query, body).await.map(|_| ())
            }
            None => client
                .send(Method::DELETE, &path, &[], None)
                .await
                .and_then(|reply| reply.into_result())
                .map(|_| ()),
        };
        result.with_context(|| {
            format!(
                "deploy stopped at {} {} {} ({i} of {} changes applied; the rest were not sent, \
                 and every entity is either its old or its new version)",
                step.change.word(),
                step.entity,
                step.name,
                work.len()
            )
        })?;
        if !quiet {
            let done = match step.change {
                Change::Create => "created",
                Change::Update => "updated",
                _ => "deleted",
            };
            printer.line(format!(
                "[{}/{}] {done} {} {}",
                i + 1,
                work.len(),
                step.entity,
                step.name
            ))?;
        }
    }
    Ok(work.len())
}

fn entity_path(namespace: &str, step: &Step) -> String {
    let collection = match step.entity {
        Entity::Package => "packages",
        Entity::Action => "actions",
    };
    let name: Vec<String> = step.name.split('/').map(encode_segment).collect();
    format!(
        "namespaces/{}/{collection}/{}",
        encode_segment(namespace),
        name.join("/")
    )
}
