//! The deployment files as a container runtime and Kubernetes would read them (no engine runs here):
//! every YAML parses; every recoupd subcommand, flag and environment variable they use exists in
//! recoupd's own help; the policy in the ConfigMap passes `recoupd check-config`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

const RECOUPD: &str = env!("CARGO_BIN_EXE_recoupd");

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn help(args: &[&str]) -> String {
    let out = Command::new(RECOUPD)
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "recoupd {args:?} --help");
    String::from_utf8(out.stdout).unwrap()
}

/// A mapping with YAML merge keys (`<<: *anchor`) resolved.
fn merged(y: &Yaml) -> Vec<(String, Yaml)> {
    let mut out = Vec::new();
    if let Yaml::Hash(h) = y {
        if let Some(base) = h.get(&Yaml::String("<<".into())) {
            out.extend(merged(base));
        }
        for (k, v) in h {
            if let Some(k) = k.as_str().filter(|k| *k != "<<") {
                out.retain(|(key, _)| key != k);
                out.push((k.to_owned(), v.clone()));
            }
        }
    }
    out
}

fn get(y: &Yaml, key: &str) -> Option<Yaml> {
    merged(y)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What the files ask of recoupd: command lines (subcommand first) and environment variables.
#[derive(Default)]
struct Uses {
    commands: Vec<Vec<String>>,
    env: BTreeSet<String>,
}

fn is_recoupd(image: Option<Yaml>, build: Option<Yaml>) -> bool {
    build.is_some()
        || image.and_then(|i| i.as_str().map(|s| s.starts_with("recoupd"))) == Some(true)
}

fn compose(uses: &mut Uses, doc: &Yaml) {
    for (_, service) in merged(&get(doc, "services").expect("services")) {
        if !is_recoupd(get(&service, "image"), get(&service, "build")) {
            continue;
        }
        if let Some(command) = get(&service, "command") {
            uses.commands.push(strings(&command));
        }
        if let Some(env) = get(&service, "environment") {
            uses.env.extend(merged(&env).into_iter().map(|(k, _)| k));
        }
    }
}

fn kubernetes(uses: &mut Uses, y: &Yaml) {
    if let Some(containers) = get(y, "containers").and_then(|c| c.as_vec().cloned()) {
        for c in containers {
            if is_recoupd(get(&c, "image"), None) {
                uses.commands.push(strings(&get(&c, "args").expect("args")));
                for e in get(&c, "env")
                    .and_then(|e| e.as_vec().cloned())
                    .unwrap_or_default()
                {
                    uses.env
                        .insert(get(&e, "name").unwrap().as_str().unwrap().to_owned());
                }
            }
        }
    }
    for (_, v) in merged(y) {
        kubernetes(uses, &v);
    }
}

fn dockerfile(uses: &mut Uses, text: &str) {
    let joined = text.replace("\\\n", " ");
    for line in joined.lines().map(str::trim) {
        if let Some(env) = line.strip_prefix("ENV ") {
            uses.env.extend(
                env.split_whitespace()
                    .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned())),
            );
        }
        for exec in ["CMD ", "ENTRYPOINT "] {
            if let Some(at) = line.find(exec) {
                let json: Vec<String> =
                    serde_json::from_str(line[at + exec.len()..].trim()).unwrap();
                match json.first().map(String::as_str) {
                    // ENTRYPOINT ["recoupd"] alone names no subcommand.
                    Some("recoupd") if json.len() > 1 => uses.commands.push(json[1..].to_vec()),
                    Some("recoupd") => {}
                    Some(_) if exec == "CMD " && !line.starts_with("HEALTHCHECK") => {
                        uses.commands.push(json)
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn deployment_files_use_only_what_recoupd_has() {
    let mut uses = Uses::default();
    let compose_text = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    for doc in YamlLoader::load_from_str(&compose_text).expect("compose.yaml parses") {
        compose(&mut uses, &doc);
    }
    let mut policy = None;
    let mut kinds = BTreeSet::new();
    for entry in std::fs::read_dir(deploy().join("k8s")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let docs = YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        for doc in docs {
            let kind = get(&doc, "kind").and_then(|k| k.as_str().map(str::to_owned));
            let kind = kind.unwrap_or_else(|| panic!("{}: no kind", path.display()));
            if kind == "ConfigMap" {
                policy = get(&get(&doc, "data").unwrap(), "policy.toml")
                    .and_then(|p| p.as_str().map(str::to_owned));
            }
            kinds.insert(kind);
            kubernetes(&mut uses, &doc);
        }
    }
    for kind in [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Job",
        "PodDisruptionBudget",
        "Secret",
        "Service",
    ] {
        assert!(kinds.contains(kind), "no {kind} in deploy/k8s");
    }
    dockerfile(
        &mut uses,
        &std::fs::read_to_string(deploy().join("Dockerfile")).unwrap(),
    );

    let root = help(&[]);
    let mut every_help = root.clone();
    let subcommands: BTreeSet<String> = uses.commands.iter().map(|c| c[0].clone()).collect();
    assert!(
        subcommands.contains("serve")
            && subcommands.contains("migrate")
            && subcommands.contains("health"),
        "{subcommands:?}"
    );
    for sub in ["serve", "migrate", "health", "check-config", "keys"] {
        every_help.push_str(&help(&[sub]));
    }
    for command in &uses.commands {
        let sub = &command[0];
        assert!(
            root.contains(&format!("  {sub} ")),
            "recoupd has no subcommand {sub}"
        );
        let own = help(&[sub]);
        for flag in command.iter().filter(|a| a.starts_with("--")) {
            assert!(own.contains(flag.as_str()), "recoupd {sub} has no {flag}");
        }
    }
    assert!(uses.env.len() >= 8, "{:?}", uses.env);
    for var in &uses.env {
        assert!(
            every_help.contains(var.as_str()),
            "no recoupd option reads {var}"
        );
    }

    let policy = policy.expect("the ConfigMap holds policy.toml");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, policy).unwrap();
    let out = Command::new(RECOUPD)
        .args(["check-config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
