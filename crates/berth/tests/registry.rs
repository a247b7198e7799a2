//! pull, push, login and logout against a real registry (Debian's
//! `docker-registry`) started by each test on 127.0.0.1.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::registry::{
    make_client_cert, make_tls, CuttingProxy, Registry, RegistryOpts, TokenServer,
};
use common::*;

/// Run berth with a private docker config dir (never the user's).
fn b(r: &Root, args: &[&str]) -> Out {
    r.cmd()
        .env("DOCKER_CONFIG", r.dir.path().join("docker-config"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into()
}

fn ok(r: &Root, args: &[&str]) -> String {
    let o = b(r, args);
    assert_eq!(o.code, 0, "berth {args:?}:\n{}{}", o.stdout, o.stderr);
    o.stdout
}

/// The digest from push's last line (`TAG: digest: sha256:... size: N`).
fn pushed_digest(out: &str) -> String {
    let last = out.lines().last().unwrap();
    let d = last.split("digest: ").nth(1).unwrap();
    d.split_whitespace().next().unwrap().to_string()
}

fn inspect(r: &Root, name: &str, fmt: &str) -> String {
    ok(r, &["image", "inspect", name, "--format", fmt])
        .trim()
        .to_string()
}

#[test]
fn push_then_pull_round_trip_keeps_the_digest_and_runs() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/test/bb", reg.addr);
    ok(&r, &["tag", "busybox", &format!("{name}:1")]);
    let out = ok(&r, &["push", &format!("{name}:1")]);
    let diff = inspect(&r, "busybox", "{{index .RootFS.Layers 0}}");
    let short = &diff[7..19];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("The push refers to repository [{name}]"));
    assert_eq!(lines[1], format!("{short}: Preparing"));
    assert_eq!(lines[2], format!("{short}: Pushed"));
    let digest = pushed_digest(&out);
    assert!(lines[3].starts_with(&format!("1: digest: {digest} size: ")));
    // Pushing again sends nothing and names the same manifest.
    let again = ok(&r, &["push", &format!("{name}:1")]);
    assert!(
        again.contains(&format!("{short}: Layer already exists")),
        "{again}"
    );
    assert_eq!(pushed_digest(&again), digest);
    assert_eq!(
        inspect(&r, &format!("{name}:1"), "{{json .RepoDigests}}"),
        format!("[\"{name}@{digest}\"]")
    );

    // A fresh root pulls it: Docker's lines, the same digest, and it runs.
    let p = Root::new();
    let out = ok(&p, &["pull", &format!("{name}:1")]);
    let blob = inspect(&r, &format!("{name}:1"), "{{.Id}}");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got[0], format!("1: Pulling from test/bb"));
    assert!(got.iter().any(|l| l.ends_with(": Pull complete")), "{out}");
    assert!(out.contains(&format!("Digest: {digest}\n")), "{out}");
    assert!(out.contains(&format!("Status: Downloaded newer image for {name}:1\n")));
    assert_eq!(got.last().unwrap(), &format!("{name}:1"));
    assert_eq!(inspect(&p, &format!("{name}:1"), "{{.Id}}"), blob);
    assert_eq!(
        inspect(&p, &format!("{name}:1"), "{{json .RepoDigests}}"),
        format!("[\"{name}@{digest}\"]")
    );
    let digests = ok(&p, &["images", "--digests", "--format", "{{.Digest}}"]);
    assert_eq!(digests.trim(), digest);
    assert_eq!(
        ok(&p, &["run", "--rm", &format!("{name}:1"), "echo", "hi"]),
        "hi\n"
    );
    // The pulled image pushes back byte for byte: same digest.
    ok(&p, &["tag", &format!("{name}:1"), &format!("{name}:again")]);
    assert_eq!(
        pushed_digest(&ok(&p, &["push", &format!("{name}:again")])),
        digest
    );

    // Up to date: no layer lines.
    let out = ok(&p, &["pull", "-q", &format!("{name}:1")]);
    assert_eq!(out, format!("{name}:1\n"));
    let out = ok(&p, &["pull", &format!("{name}:1")]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}:1\n")),
        "{out}"
    );
    assert!(!out.contains("Pull complete"), "{out}");

    // By digest: no tag, the repo digest only.
    let q = Root::new();
    let by_digest = format!("{name}@{digest}");
    let out = ok(&q, &["pull", &by_digest]);
    assert!(
        out.starts_with(&format!("{by_digest}: Pulling from test/bb\n")),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "Status: Downloaded newer image for {by_digest}\n{by_digest}\n"
        )),
        "{out}"
    );
    assert_eq!(inspect(&q, &by_digest, "{{json .RepoTags}}"), "[]");

    // -a: every tag of the repository.
    let a = Root::new();
    let out = ok(&a, &["pull", "-a", &name]);
    assert!(out.contains("1: Pulling from test/bb\n"), "{out}");
    assert!(out.contains("again: Pulling from test/bb\n"), "{out}");
    assert!(
        out.ends_with(&format!(
            "Status: Downloaded newer image for {name}\n{name}\n"
        )),
        "{out}"
    );
    let tags = ok(&a, &["images", "--format", "{{.Tag}}"]);
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["1", "again"]);
    assert_eq!(
        ok(&a, &["debug", "check-store"]).trim(),
        "store is consistent"
    );
    p.assert_no_leftovers();
}

#[test]
fn push_mounts_blobs_from_another_repository() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let first = format!("{}/one/bb:1", reg.addr);
    let second = format!("{}/two/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &first]);
    ok(&r, &["tag", "busybox", &second]);
    ok(&r, &["push", &first]);
    let out = ok(&r, &["push", &second]);
    assert!(out.contains(": Mounted from one/bb\n"), "{out}");
    // -q prints the reference only.
    ok(&r, &["tag", "busybox", &format!("{}/three/bb", reg.addr)]);
    let out = ok(&r, &["push", "-q", &format!("{}/three/bb", reg.addr)]);
    assert_eq!(out, format!("{}/three/bb:latest\n", reg.addr));
}

#[test]
fn unknown_names_fail_as_docker_does() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let before = r.fingerprint();
    let o = b(&r, &["pull", &format!("{}/no/such:tag", reg.addr)]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "Error response from daemon: manifest for {}/no/such:tag not found: manifest unknown: manifest unknown\n",
            reg.addr
        )
    );
    assert_eq!(o.stdout, "");
    let o = b(&r, &["push", &format!("{}/nothing/here", reg.addr)]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "Error response from daemon: An image does not exist locally with the tag: {}/nothing/here\n",
            reg.addr
        )
    );
    let o = b(&r, &["pull", "-a", &format!("{}/x:1", reg.addr)]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, "tag can't be used with --all-tags/-a\n")
    );
    // Nothing listens: Go's dial error, as dockerd prints it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = b(&r, &["pull", &format!("127.0.0.1:{port}/x")]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("Error response from daemon: Get \"http://127.0.0.1:{port}/v2/\": dial tcp 127.0.0.1:{port}: connect: connection refused\n")
    );
    assert_eq!(r.fingerprint(), before);
}

#[test]
fn run_pulls_a_missing_image() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/run/bb:latest", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    ok(&r, &["push", &name]);
    let p = Root::new();
    let o = b(
        &p,
        &["run", "--rm", &format!("{}/run/bb", reg.addr), "echo", "hi"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "hi\n");
    assert!(
        o.stderr.starts_with(&format!(
            "Unable to find image '{name}' locally\nlatest: Pulling from run/bb\n"
        )),
        "{}",
        o.stderr
    );
    assert!(o
        .stderr
        .contains(&format!("Status: Downloaded newer image for {name}\n")));
    let o = b(
        &p,
        &[
            "create",
            "--pull",
            "never",
            &format!("{}/run/other", reg.addr),
        ],
    );
    assert_ne!(o.code, 0);
    assert!(!o.stderr.contains("Unable to find image"), "{}", o.stderr);
    p.assert_no_leftovers();
}

/// Put a manifest list by hand (as `docker manifest push` would).
fn put_index(reg: &Registry, repo: &str, tag: &str, entries: &[(&str, u64, &str)]) -> String {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(d, size, arch)| {
            serde_json::json!({
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "size": size, "digest": d,
                "platform": {"architecture": arch, "os": "linux"}
            })
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": manifests,
    }))
    .unwrap();
    let o = std::process::Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT", "-H"])
        .arg("Content-Type: application/vnd.docker.distribution.manifest.list.v2+json")
        .arg("--data-binary")
        .arg("@-")
        .arg(format!("http://{}/v2/{repo}/manifests/{tag}", reg.addr))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&body)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        o.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    format!("sha256:{}", sha256_hex(&body))
}

#[test]
fn manifest_lists_pick_the_host_platform() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/multi/bb", reg.addr);
    ok(&r, &["tag", "busybox", &format!("{name}:amd")]);
    let out = ok(&r, &["push", &format!("{name}:amd")]);
    let digest = pushed_digest(&out);
    let size: u64 = out
        .lines()
        .last()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let foreign = if host == "s390x" { "ppc64le" } else { "s390x" };
    let index = put_index(
        &reg,
        "multi/bb",
        "latest",
        &[(&digest, size, foreign), (&digest, size, host)],
    );
    let p = Root::new();
    let out = ok(&p, &["pull", &name]);
    assert!(out.contains(&format!("Digest: {index}\n")), "{out}");
    assert_eq!(
        inspect(&p, &name, "{{json .RepoDigests}}"),
        format!("[\"{name}@{index}\"]")
    );
    assert_eq!(ok(&p, &["run", "--rm", &name, "echo", "ok"]), "ok\n");

    put_index(&reg, "multi/bb", "foreign", &[(&digest, size, foreign)]);
    let before = p.fingerprint();
    let o = b(&p, &["pull", &format!("{name}:foreign")]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("Error response from daemon: no matching manifest for linux/{host} in the manifest list entries\n")
    );
    assert_eq!(p.fingerprint(), before);
    // --platform picks another entry.
    let o = b(
        &p,
        &[
            "pull",
            "--platform",
            &format!("linux/{foreign}"),
            &format!("{name}:foreign"),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    p.assert_no_leftovers();
}

#[test]
fn basic_auth_login_push_pull_logout() {
    let reg = Registry::start_with(RegistryOpts {
        htpasswd: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let r = root_with_busybox();
    let name = format!("{}/auth/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    let o = b(&r, &["push", &name]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("no basic auth credentials"),
        "{}",
        o.stderr
    );
    // A pull asks for the tag with HEAD first, as dockerd does, so the
    // error names that request.
    let o = b(&r, &["pull", &name]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "Error response from daemon: Head \"http://{}/v2/auth/bb/manifests/1\": no basic auth credentials\n",
            reg.addr
        )
    );

    let o = b(&r, &["login", "-u", "alice", "-p", "wrong", &reg.addr]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\nError response from daemon: login attempt to http://{}/v2/ failed with status: 401 Unauthorized\n",
            reg.addr
        )
    );
    let cfg = r.dir.path().join("docker-config/config.json");
    assert!(!cfg.exists());
    let o: Out = r
        .cmd()
        .env("DOCKER_CONFIG", r.dir.path().join("docker-config"))
        .args(["login", "-u", "alice", "--password-stdin", &reg.addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"s3cret\n")?;
            c.wait_with_output()
        })
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "Login Succeeded\n");
    assert_eq!(
        o.stderr,
        format!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n",
            cfg.display()
        )
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    // base64("alice:s3cret")
    assert_eq!(saved["auths"][&reg.addr]["auth"], "YWxpY2U6czNjcmV0");
    ok(&r, &["push", &name]);
    let p = Root::new();
    std::fs::create_dir_all(p.dir.path().join("docker-config")).unwrap();
    std::fs::copy(&cfg, p.dir.path().join("docker-config/config.json")).unwrap();
    ok(&p, &["pull", &name]);
    assert_eq!(
        ok(&r, &["logout", &reg.addr]),
        format!("Removing login credentials for {}\n", reg.addr)
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    assert!(saved["auths"].get(&reg.addr).is_none(), "{saved}");
}

#[test]
fn tls_registry_verified_with_a_ca_in_certs_d() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_tls(certs.path());
    let reg = Registry::start_with(RegistryOpts {
        tls: Some((cert, key)),
        ..Default::default()
    });
    let r = root_with_busybox();
    let name = format!("{}/tls/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    // A CA that did not sign the registry's certificate: refused.
    let other = tempfile::tempdir().unwrap();
    let (wrong_ca, _, _) = make_tls(other.path());
    let host_dir = r.path().join("certs.d").join(&reg.addr);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(&wrong_ca, host_dir.join("ca.crt")).unwrap();
    let o = b(&r, &["push", &name]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(&format!("\"https://{}/v2/\"", reg.addr)),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.to_lowercase().contains("certificate"),
        "{}",
        o.stderr
    );
    // The right CA: pushed and pulled over verified TLS.
    std::fs::copy(&ca, host_dir.join("ca.crt")).unwrap();
    ok(&r, &["push", &name]);
    let p = Root::new();
    let pd = p.path().join("certs.d").join(&reg.addr);
    std::fs::create_dir_all(&pd).unwrap();
    std::fs::copy(&ca, pd.join("ca.crt")).unwrap();
    ok(&p, &["pull", &name]);
    assert_eq!(ok(&p, &["run", "--rm", &name, "echo", "tls"]), "tls\n");
    p.assert_no_leftovers();
}

/// A registry that wants client certificates (mutual TLS): the pair in
/// `certs.d/<host:port>/` (`client.cert` + `client.key`, as dockerd reads
/// them) is shown; without it the handshake fails; half a pair is
/// refused in Docker's words before anything is sent.
#[test]
fn mutual_tls_with_a_client_certificate_in_certs_d() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_tls(certs.path());
    let (client_cert, client_key) = make_client_cert(certs.path());
    let reg = Registry::start_with(RegistryOpts {
        tls: Some((cert, key)),
        client_ca: Some(ca.clone()),
        ..Default::default()
    });
    let r = root_with_busybox();
    let name = format!("{}/mtls/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    let host_dir = r.path().join("certs.d").join(&reg.addr);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(&ca, host_dir.join("ca.crt")).unwrap();
    let o = b(&r, &["push", &name]);
    assert_eq!(o.code, 1, "no client certificate: {}", o.stdout);
    assert!(
        o.stderr.contains(&format!("\"https://{}/v2/\"", reg.addr)),
        "{}",
        o.stderr
    );
    std::fs::copy(&client_cert, host_dir.join("client.cert")).unwrap();
    let before = r.fingerprint();
    let o = b(&r, &["push", &name]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "Error response from daemon: missing key client.key for client certificate client.cert. CA certificates must use the extension .crt\n"
    );
    assert_eq!(r.fingerprint(), before);
    std::fs::copy(&client_key, host_dir.join("client.key")).unwrap();
    ok(&r, &["push", &name]);
    let p = Root::new();
    let pd = p.path().join("certs.d").join(&reg.addr);
    std::fs::create_dir_all(&pd).unwrap();
    for f in ["ca.crt", "client.cert", "client.key"] {
        std::fs::copy(host_dir.join(f), pd.join(f)).unwrap();
    }
    ok(&p, &["pull", &name]);
    assert_eq!(ok(&p, &["run", "--rm", &name, "echo", "mtls"]), "mtls\n");
    p.assert_no_leftovers();
}

/// The one layer blob of the busybox test image as pushed.
fn layer_blob(r: &Root, name: &str) -> String {
    let id = inspect(r, name, "{{.Id}}");
    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(r.path().join("images").join(format!("{}.json", &id[7..]))).unwrap(),
    )
    .unwrap();
    // The layer as pushed: gzipped, named by the manifest the push made.
    let m = rec["manifests"][0]["digest"].as_str().unwrap();
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(r.path().join("content/blobs/sha256").join(&m[7..])).unwrap(),
    )
    .unwrap();
    m["layers"][0]["digest"].as_str().unwrap().to_string()
}

#[test]
fn a_corrupted_blob_is_refused_and_nothing_is_stored() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/bad/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    ok(&r, &["push", &name]);
    let blob = layer_blob(&r, &name);
    let f = reg.blob_path(&blob);
    let mut data = std::fs::read(&f).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&f, &data).unwrap();
    let p = Root::new();
    ok(&p, &["images"]);
    let before = p.fingerprint();
    let o = b(&p, &["pull", &name]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert_eq!(
        o.stderr,
        format!(
            "Error response from daemon: filesystem layer verification failed for digest {blob}\n"
        )
    );
    assert_eq!(p.fingerprint(), before);
    let partials = std::fs::read_dir(p.path().join("downloads"))
        .unwrap()
        .count();
    assert_eq!(partials, 0, "a blob that failed verification is not kept");
}

#[test]
fn a_layer_cut_mid_download_resumes_with_a_range_request() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/cut/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    ok(&r, &["push", &name]);
    let blob = layer_blob(&r, &name);
    let size = std::fs::metadata(reg.blob_path(&blob)).unwrap().len();
    let proxy = CuttingProxy::start(&reg.addr);
    *proxy.cut.lock().unwrap() = Some((blob.clone(), size / 2));
    let via = format!("{}/cut/bb:1", proxy.addr);
    let p = Root::new();
    ok(&p, &["images"]);
    let before = p.fingerprint();
    let o = b(&p, &["pull", &via]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.starts_with(&format!(
            "Error response from daemon: Get \"http://{}/v2/cut/bb/blobs/{blob}\": ",
            proxy.addr
        )),
        "{}",
        o.stderr
    );
    assert_eq!(p.fingerprint(), before, "nothing in the store");
    let partial = p
        .path()
        .join("downloads")
        .join(format!("sha256-{}", &blob[7..]));
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(kept > 0 && kept < size, "kept {kept} of {size}");
    // The next pull continues where the first stopped.
    let out = ok(&p, &["pull", &via]);
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(
        *proxy.ranges.lock().unwrap(),
        vec![format!("bytes={kept}-")]
    );
    assert!(!partial.exists());
    assert_eq!(
        ok(&p, &["run", "--rm", &via, "echo", "resumed"]),
        "resumed\n"
    );
    // Pulled again, the tag is only HEADed: its image is here already.
    proxy.requests.lock().unwrap().clear();
    let out = ok(&p, &["pull", &via]);
    assert!(
        out.ends_with(&format!("Status: Image is up to date for {via}\n{via}\n")),
        "{out}"
    );
    let asked = proxy.requests.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|l| l.starts_with("HEAD /v2/cut/bb/manifests/1 ")),
        "{asked:?}"
    );
    assert!(
        !asked.iter().any(|l| l.starts_with("GET /v2/cut/bb/")),
        "{asked:?}"
    );
    assert_eq!(
        ok(&p, &["debug", "check-store"]).trim(),
        "store is consistent"
    );
    p.assert_no_leftovers();
    // A cut pull never retried: `image prune` removes what it kept.
    let q = Root::new();
    *proxy.cut.lock().unwrap() = Some((blob.clone(), size / 2));
    assert_eq!(b(&q, &["pull", &via]).code, 1);
    let partial = q
        .path()
        .join("downloads")
        .join(format!("sha256-{}", &blob[7..]));
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(kept > 0, "{kept}");
    let out = ok(&q, &["image", "prune", "-f"]);
    assert!(!partial.exists(), "{out}");
    assert!(
        !out.contains("Total reclaimed space: 0B"),
        "the partial layer counts: {out}"
    );
    q.assert_no_leftovers();
}

#[test]
fn credentials_go_through_a_creds_store_helper() {
    let reg = Registry::start_with(RegistryOpts {
        htpasswd: Some(("bob".into(), "pw".into())),
        ..Default::default()
    });
    let r = root_with_busybox();
    // A docker-credential helper that keeps one entry in a file.
    let bin = r.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-berthtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nf=\"$(dirname \"$0\")/store.json\"\ncase \"$1\" in\n\
         store) cat > \"$f\" ;;\n\
         get) read url; if [ -s \"$f\" ]; then cat \"$f\"; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
         erase) rm -f \"$f\" ;;\nesac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg_dir = r.dir.path().join("docker-config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("config.json"),
        r#"{"credsStore": "berthtest"}"#,
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = |args: &[&str]| -> Out {
        r.cmd()
            .env("DOCKER_CONFIG", &cfg_dir)
            .env("PATH", &path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    };
    let o = run(&["login", "-u", "bob", "-p", "pw", &reg.addr]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Login Succeeded\n"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("unencrypted"), "{}", o.stderr);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bin.join("store.json")).unwrap()).unwrap();
    assert_eq!(stored["Secret"], "pw");
    assert_eq!(stored["ServerURL"], reg.addr.as_str());
    let cfg = std::fs::read_to_string(cfg_dir.join("config.json")).unwrap();
    assert!(!cfg.contains("\"auth\""), "no password in the file: {cfg}");
    let name = format!("{}/helper/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    let o = run(&["push", &name]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    run(&["logout", &reg.addr]);
    assert!(!bin.join("store.json").exists());
    let o = run(&["push", &name]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("no basic auth credentials"),
        "{}",
        o.stderr
    );
}

#[test]
fn docker_and_podman_pull_what_berth_pushes_and_back() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let mine = format!("{}/cross/berth:1", reg.addr);
    ok(&r, &["tag", "busybox", &mine]);
    let pushed = pushed_digest(&ok(&r, &["push", &mine]));
    let id = inspect(&r, &mine, "{{.Id}}");

    if std::process::Command::new("podman")
        .arg("--version")
        .output()
        .is_ok()
    {
        let storage = tempfile::tempdir().unwrap();
        let podman = |args: &[&str]| common::podman(storage.path(), args);
        let o = podman(&["pull", "--tls-verify=false", &mine]);
        assert_eq!(o.code, 0, "podman pull: {}", o.stderr);
        let o = podman(&[
            "run",
            "--rm",
            "--network",
            "none",
            &mine,
            "echo",
            "podman ran it",
        ]);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "podman ran it\n"),
            "{}",
            o.stderr
        );
        let o = podman(&["image", "inspect", "--format", "{{.Digest}} {{.Id}}", &mine]);
        assert_eq!(o.stdout.trim(), format!("{pushed} {}", &id[7..]));
        let _ = podman(&["system", "reset", "--force"]);
    } else {
        eprintln!("skipping podman: not installed");
    }

    let Some(d) = common::dockerd::Dockerd::start() else {
        return;
    };
    let o = d.docker(&["pull", &mine]);
    assert_eq!(o.code, 0, "docker pull: {}", o.stderr);
    assert!(
        o.stdout.contains(&format!("Digest: {pushed}\n")),
        "{}",
        o.stdout
    );
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &mine,
        "echo",
        "docker ran it",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "docker ran it\n"),
        "{}",
        o.stderr
    );
    assert_eq!(
        d.docker(&["image", "inspect", "--format", "{{.Id}}", &mine])
            .stdout
            .trim(),
        id
    );
    // Docker pushes (gzip layers, its own manifest); berth pulls the same digest and ID.
    let theirs = format!("{}/cross/docker:1", reg.addr);
    assert_eq!(d.docker(&["tag", &mine, &theirs]).code, 0);
    let o = d.docker(&["push", &theirs]);
    assert_eq!(o.code, 0, "docker push: {}", o.stderr);
    let docker_digest = pushed_digest(&o.stdout);
    let p = Root::new();
    let out = ok(&p, &["pull", &theirs]);
    assert!(out.contains(&format!("Digest: {docker_digest}\n")), "{out}");
    assert_eq!(
        inspect(&p, &theirs, "{{json .RepoDigests}}"),
        format!("[\"{}/cross/docker@{docker_digest}\"]", reg.addr)
    );
    assert_eq!(inspect(&p, &theirs, "{{.Id}}"), id);
    assert_eq!(
        ok(&p, &["run", "--rm", &theirs, "echo", "berth ran it"]),
        "berth ran it\n"
    );
    // And back: berth pushes Docker's manifest unchanged.
    ok(
        &p,
        &["tag", &theirs, &format!("{}/cross/again:1", reg.addr)],
    );
    let again = ok(&p, &["push", &format!("{}/cross/again:1", reg.addr)]);
    assert_eq!(pushed_digest(&again), docker_digest);
    p.assert_no_leftovers();
}

#[test]
fn concurrent_pulls_into_one_root_stay_consistent() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/conc/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    ok(&r, &["push", &name]);
    let p = Root::new();
    ok(&p, &["images"]);
    let children: Vec<_> = (0..3)
        .map(|_| {
            p.cmd()
                .env("DOCKER_CONFIG", p.dir.path().join("docker-config"))
                .args(["pull", &name])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o: Out = c.wait_with_output().unwrap().into();
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    }
    assert_eq!(
        ok(&p, &["debug", "check-store"]).trim(),
        "store is consistent"
    );
    assert_eq!(ok(&p, &["images", "-q"]).lines().count(), 1);
    assert_eq!(
        std::fs::read_dir(p.path().join("downloads"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(ok(&p, &["run", "--rm", &name, "echo", "one"]), "one\n");
    p.assert_no_leftovers();
}

/// Write a build context holding just a Dockerfile.
fn context(r: &Root, name: &str, dockerfile: &str) -> String {
    let dir = r.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir.to_string_lossy().into_owned()
}

#[test]
fn build_pulls_a_missing_base_and_pull_flag_repulls_a_moved_tag() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let base = format!("{}/build/base:latest", reg.addr);
    ok(&r, &["tag", "busybox", &base]);
    ok(&r, &["push", &base]);

    // A fresh root: FROM an image it does not have pulls it, as BuildKit does.
    let p = Root::new();
    let df = format!("FROM {}/build/base\nRUN echo built > /built\n", reg.addr);
    let ctx = context(&p, "ctx", &df);
    let o = b(
        &p,
        &[
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            "-t",
            "app:1",
            &ctx,
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("[internal] load metadata for {base}")),
        "{}",
        o.stderr
    );
    assert_eq!(
        ok(&p, &["run", "--rm", "app:1", "cat", "/built"]),
        "built\n"
    );
    // The base is kept under its name, as `run` keeps what it pulls.
    assert_eq!(
        inspect(&p, &base, "{{.Id}}"),
        inspect(&r, "busybox", "{{.Id}}")
    );

    // The tag moves in the registry.
    let moved = context(&r, "moved", "FROM busybox\nRUN echo two > /marker\n");
    ok(
        &r,
        &["build", "-q", "--network", "none", "-t", &base, &moved],
    );
    ok(&r, &["push", &base]);
    let df2 = format!(
        "FROM {}/build/base\nRUN cat /marker || echo none\n",
        reg.addr
    );
    let ctx2 = context(&p, "ctx2", &df2);
    // Without --pull the local base is used ...
    ok(
        &p,
        &["build", "-q", "--network", "none", "-t", "app:2", &ctx2],
    );
    assert_eq!(
        b(&p, &["run", "--rm", "app:2", "cat", "/marker"]).code,
        1,
        "the stale base has no /marker"
    );
    // ... `--pull` (the 20.10 CLI's bool) fetches the moved tag.
    ok(
        &p,
        &[
            "build",
            "-q",
            "--pull",
            "--network",
            "none",
            "-t",
            "app:3",
            &ctx2,
        ],
    );
    assert_eq!(ok(&p, &["run", "--rm", "app:3", "cat", "/marker"]), "two\n");
    assert_eq!(inspect(&p, &base, "{{.Id}}"), inspect(&r, &base, "{{.Id}}"));

    // `--pull never` stays offline; an unknown repository fails the build.
    let df3 = format!("FROM {}/build/nothing\n", reg.addr);
    let ctx3 = context(&p, "ctx3", &df3);
    let o = b(&p, &["build", "-q", "--pull", "never", &ctx3]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let o = b(&p, &["build", "-q", &ctx3]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "failed to create LLB definition: {}/build/nothing:latest: not found",
            reg.addr
        )),
        "{}",
        o.stderr
    );
    let o = b(&p, &["build", "-q", "--pull=maybe", &ctx3]);
    assert_eq!(o.code, 125, "{}", o.stderr);
    p.assert_no_leftovers();
    r.assert_no_leftovers();
}

/// Count the token requests whose scope names `repo`.
fn token_requests_for(ts: &TokenServer, repo: &str) -> usize {
    ts.scopes()
        .iter()
        .filter(|s| s.contains(&format!(":{repo}:")))
        .count()
}

/// Log `user` in on root `r` with `--password-stdin`.
fn login_stdin(r: &Root, user: &str, password: &str, server: &str) -> Out {
    r.cmd()
        .env("DOCKER_CONFIG", r.dir.path().join("docker-config"))
        .args(["login", "-u", user, "--password-stdin", server])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(password.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap()
        .into()
}

#[test]
fn bearer_token_auth_scopes_tokens_per_repository_and_action() {
    let ts = TokenServer::start(&[
        ("alice", "s3cret", &["pull", "push"]),
        ("reader", "r34d", &["pull"]),
    ]);
    let reg = Registry::start_with(RegistryOpts {
        token: Some(ts.config()),
        ..Default::default()
    });
    let r = root_with_busybox();
    let name = format!("{}/tok/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);

    let o = login_stdin(&r, "alice", "wrong", &reg.addr);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.starts_with("Error response from daemon: ")
            && o.stderr.contains("incorrect username or password"),
        "{}",
        o.stderr
    );
    let o = login_stdin(&r, "alice", "s3cret", &reg.addr);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "Login Succeeded\n");

    // One token for the push's scope, reused for every request it makes.
    ok(&r, &["push", &name]);
    assert_eq!(token_requests_for(&ts, "tok/bb"), 1, "{:?}", ts.scopes());
    assert!(
        ts.scopes()
            .iter()
            .any(|s| s == "repository:tok/bb:pull,push"),
        "{:?}",
        ts.scopes()
    );

    // A pull-only user pulls, and cannot push.
    let p = Root::new();
    assert_eq!(login_stdin(&p, "reader", "r34d", &reg.addr).code, 0);
    ok(&p, &["pull", &name]);
    assert_eq!(token_requests_for(&ts, "tok/bb"), 2, "{:?}", ts.scopes());
    assert!(ts.scopes().iter().any(|s| s == "repository:tok/bb:pull"));
    assert_eq!(ok(&p, &["run", "--rm", &name, "echo", "ok"]), "ok\n");
    let other = format!("{}/tok/other:1", reg.addr);
    ok(&p, &["tag", &name, &other]);
    let o = b(&p, &["push", &other]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    let berth_denied = o.stderr.clone();
    // Nothing reached the registry under that name.
    let o = b(&Root::new(), &["pull", &other]);
    assert_ne!(o.code, 0);
    p.assert_no_leftovers();
    r.assert_no_leftovers();

    // dockerd 20.10 words both failures the same way.
    let berth_bad_login = b(&r, &["login", "-u", "alice", "-p", "wrong", &reg.addr]).stderr;
    let Some(d) = common::dockerd::Dockerd::start() else {
        return;
    };
    let o = d.docker(&["login", "-u", "alice", "-p", "wrong", &reg.addr]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, berth_bad_login);
    let o = d.docker(&["login", "-u", "reader", "-p", "r34d", &reg.addr]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(d.docker(&["pull", &name]).code, 0);
    assert_eq!(d.docker(&["tag", &name, &other]).code, 0);
    let o = d.docker(&["push", &other]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr.lines().last(), berth_denied.lines().last());
}

#[test]
fn pull_after_rmi_reuses_layers_the_build_cache_holds() {
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/cache/app:1", reg.addr);
    let ctx = context(&r, "ctx", "FROM busybox\nRUN echo hi > /f\n");
    ok(&r, &["build", "-q", "--network", "none", "-t", &name, &ctx]);
    ok(&r, &["push", &name]);
    ok(&r, &["rmi", &name]);
    // Both layers are still unpacked (busybox's, and the RUN step's in the
    // build cache): nothing is downloaded or unpacked again.
    let out = ok(&r, &["pull", &name]);
    assert_eq!(out.matches(": Already exists").count(), 2, "{out}");
    assert!(!out.contains("Pull complete"), "{out}");
    assert_eq!(ok(&r, &["run", "--rm", &name, "cat", "/f"]), "hi\n");
    // Without the cache the layer comes from the registry again.
    ok(&r, &["rmi", &name]);
    ok(&r, &["builder", "prune", "-af"]);
    let out = ok(&r, &["pull", &name]);
    assert_eq!(out.matches(": Pull complete").count(), 1, "{out}");
    assert_eq!(ok(&r, &["run", "--rm", &name, "cat", "/f"]), "hi\n");
    r.assert_no_leftovers();
}

/// Layers berth built are stored uncompressed but leave gzipped, as
/// dockerd and BuildKit push them; the same image always pushes as the
/// same bytes.
#[test]
fn built_layers_are_pushed_gzipped_with_a_stable_digest() {
    use sha2::Digest as _;
    use std::io::Read as _;
    let reg = Registry::start();
    let r = root_with_busybox();
    let name = format!("{}/gz/app:1", reg.addr);
    let ctx = context(
        &r,
        "ctx",
        "FROM busybox\nRUN seq 1 20000 > /numbers && echo hi > /f\n",
    );
    ok(&r, &["build", "-q", "--network", "none", "-t", &name, &ctx]);
    let digest = pushed_digest(&ok(&r, &["push", &name]));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.blob_path(&digest)).unwrap()).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let diff_ids: Vec<String> =
        serde_json::from_str(&inspect(&r, &name, "{{json .RootFS.Layers}}")).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), diff_ids.len());
    let mut uncompressed = 0;
    for (l, diff) in layers.iter().zip(&diff_ids) {
        assert_eq!(
            l["mediaType"], "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "{manifest}"
        );
        let blob = std::fs::read(reg.blob_path(l["digest"].as_str().unwrap())).unwrap();
        assert_eq!(l["size"].as_u64().unwrap(), blob.len() as u64);
        // One gzip member whose content is the layer's diff.
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(
            &format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar))),
            diff
        );
        assert!(
            blob.len() < tar.len(),
            "compressed: {} of {}",
            blob.len(),
            tar.len()
        );
        uncompressed += tar.len();
    }
    assert!(uncompressed > 100_000);
    let store_has = |d: &str| r.path().join("content/blobs/sha256").join(&d[7..]).exists();
    // Compressed again from nothing (the image removed, its gzip blobs
    // and manifest collected, then built again from the cache), the
    // layers are the same bytes: the registry has them all already.
    ok(&r, &["rmi", &name]);
    for l in layers {
        assert!(
            !store_has(l["digest"].as_str().unwrap()),
            "gzip blob outlived its image: {l}"
        );
    }
    let fresh = format!("{}/gz/app:2", reg.addr);
    ok(
        &r,
        &["build", "-q", "--network", "none", "-t", &fresh, &ctx],
    );
    let out = ok(&r, &["push", &fresh]);
    let digest = pushed_digest(&out);
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.blob_path(&digest)).unwrap()).unwrap();
    assert_eq!(again["layers"], manifest["layers"]);
    assert_eq!(out.matches(": Layer already exists").count(), 2, "{out}");
    // The gzip blobs stay with the manifest through GC: pushing to
    // another repository sends the same manifest, mounting the layers.
    ok(&r, &["builder", "prune", "-af"]);
    for l in layers {
        assert!(store_has(l["digest"].as_str().unwrap()), "{l}");
    }
    let other = format!("{}/gz/copy:1", reg.addr);
    ok(&r, &["tag", &fresh, &other]);
    let out = ok(&r, &["push", &other]);
    assert_eq!(pushed_digest(&out), digest);
    assert_eq!(out.matches(": Mounted from gz/app").count(), 2, "{out}");
    assert_eq!(
        ok(&r, &["debug", "check-store"]).trim(),
        "store is consistent"
    );
    r.assert_no_leftovers();
}

/// An identity token in `config.json` (what `az acr login` and some
/// credential helpers leave, with no password) is exchanged for access
/// tokens with an OAuth2 refresh-token grant, as dockerd does.
#[test]
fn an_identity_token_gets_bearer_tokens_by_a_refresh_grant() {
    let ts = TokenServer::start(&[("robot", "refresh-7f3a", &["pull", "push"])]);
    let reg = Registry::start_with(RegistryOpts {
        token: Some(ts.config()),
        ..Default::default()
    });
    let r = root_with_busybox();
    let name = format!("{}/idt/bb:1", reg.addr);
    ok(&r, &["tag", "busybox", &name]);
    let cfg_dir = r.dir.path().join("docker-config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let write_cfg = |token: &str| {
        let cfg = serde_json::json!({"auths": {reg.addr.clone(): {
            // A user name with an empty password, as `az acr login` writes.
            "auth": common::registry::b64(b"00000000-0000-0000-0000-000000000000:", false),
            "identitytoken": token,
        }}});
        std::fs::write(cfg_dir.join("config.json"), cfg.to_string()).unwrap();
    };
    write_cfg("not-the-token");
    let o = b(&r, &["push", &name]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        o.stderr
            .starts_with("denied: requested access to the resource is denied"),
        "{}",
        o.stderr
    );
    write_cfg("refresh-7f3a");
    ok(&r, &["push", &name]);
    let p = Root::new();
    let pd = p.dir.path().join("docker-config");
    std::fs::create_dir_all(&pd).unwrap();
    std::fs::copy(cfg_dir.join("config.json"), pd.join("config.json")).unwrap();
    ok(&p, &["pull", &name]);
    assert_eq!(ok(&p, &["run", "--rm", &name, "echo", "idt"]), "idt\n");
    // Every token came from the refresh grant, for the robot.
    let reqs = ts.requests.lock().unwrap().clone();
    assert!(reqs.len() >= 3, "{reqs:?}");
    assert_eq!(reqs[0].1, "", "the wrong token is refused: {reqs:?}");
    assert!(
        reqs[1..].iter().all(|(_, who)| who == "refresh:robot"),
        "{reqs:?}"
    );
    assert!(
        reqs.iter().any(|(s, _)| s == "repository:idt/bb:pull,push"),
        "{reqs:?}"
    );
    p.assert_no_leftovers();
}
