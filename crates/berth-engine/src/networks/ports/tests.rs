//! Every expectation here is Docker 20.10's output, recorded with
//! `docker create/run/inspect/ps/port` against a private dockerd (the
//! project notes' docker-net-ref.md, sections 1, 2 and 5).
#![allow(clippy::unwrap_used)]

use super::*;

fn v(specs: &[&str]) -> Vec<String> {
    specs.iter().map(|s| s.to_string()).collect()
}

/// `HostConfig.PortBindings` and `Config.ExposedPorts` as Docker's JSON.
fn publish_json(specs: &[&str]) -> Result<(String, String), String> {
    let (bindings, exposed) = parse_publish(&v(specs))?;
    let exposed: BTreeMap<&String, serde_json::Value> =
        exposed.iter().map(|p| (p, serde_json::json!({}))).collect();
    Ok((
        serde_json::to_string(&bindings).unwrap(),
        serde_json::to_string(&exposed).unwrap(),
    ))
}

fn ports(json: &str) -> PortSet {
    serde_json::from_str(json).unwrap()
}

#[test]
fn publish_specs_store_as_docker_stores_them() {
    // `docker create -p SPEC busybox`, then inspect: PortBindings, ExposedPorts.
    let cases: &[(&str, &str, &str)] = &[
        (
            ":80",
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "::80",
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "[::1]:80:80",
            r#"{"80/tcp":[{"HostIp":"::1","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "[::1]::80",
            r#"{"80/tcp":[{"HostIp":"::1","HostPort":""}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "[::]:80:80",
            r#"{"80/tcp":[{"HostIp":"::","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "0:80",
            r#"{"80/tcp":[{"HostIp":"","HostPort":"0"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "80:0",
            r#"{"0/tcp":[{"HostIp":"","HostPort":"80"}]}"#,
            r#"{"0/tcp":{}}"#,
        ),
        (
            "0",
            r#"{"0/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"0/tcp":{}}"#,
        ),
        (
            "80/",
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "80:80/",
            r#"{"80/tcp":[{"HostIp":"","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "80/TCP",
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "80/Udp",
            r#"{"80/udp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/udp":{}}"#,
        ),
        (
            "80/SCTP",
            r#"{"80/sctp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/sctp":{}}"#,
        ),
        (
            "80:80/tcp/udp",
            r#"{"80/tcp":[{"HostIp":"","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "80-81",
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}],"81/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/tcp":{},"81/tcp":{}}"#,
        ),
        (
            "80-81:90",
            r#"{"90/tcp":[{"HostIp":"","HostPort":"80-81"}]}"#,
            r#"{"90/tcp":{}}"#,
        ),
        (
            "80-81:90-91",
            r#"{"90/tcp":[{"HostIp":"","HostPort":"80"}],"91/tcp":[{"HostIp":"","HostPort":"81"}]}"#,
            r#"{"90/tcp":{},"91/tcp":{}}"#,
        ),
        (
            "127.0.0.1:80-81:90-91/udp",
            r#"{"90/udp":[{"HostIp":"127.0.0.1","HostPort":"80"}],"91/udp":[{"HostIp":"127.0.0.1","HostPort":"81"}]}"#,
            r#"{"90/udp":{},"91/udp":{}}"#,
        ),
        (
            "127.0.0.1::90-91",
            r#"{"90/tcp":[{"HostIp":"127.0.0.1","HostPort":""}],"91/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}"#,
            r#"{"90/tcp":{},"91/tcp":{}}"#,
        ),
        (
            "80-80:90",
            r#"{"90/tcp":[{"HostIp":"","HostPort":"80"}]}"#,
            r#"{"90/tcp":{}}"#,
        ),
        (
            "1.2.3.4::80",
            r#"{"80/tcp":[{"HostIp":"1.2.3.4","HostPort":""}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "0.0.0.0:80:80",
            r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "65535:65535",
            r#"{"65535/tcp":[{"HostIp":"","HostPort":"65535"}]}"#,
            r#"{"65535/tcp":{}}"#,
        ),
        (
            "080:0080",
            r#"{"80/tcp":[{"HostIp":"","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "80-81-82",
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}],"81/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/tcp":{},"81/tcp":{}}"#,
        ),
        (
            "80-81-82:90",
            r#"{"90/tcp":[{"HostIp":"","HostPort":"80-81"}]}"#,
            r#"{"90/tcp":{}}"#,
        ),
        (
            "[1.2.3.4]:80:80",
            r#"{"80/tcp":[{"HostIp":"1.2.3.4","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "[::ffff:1.2.3.4]:80:80",
            r#"{"80/tcp":[{"HostIp":"::ffff:1.2.3.4","HostPort":"80"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        // The long form (20.10 ignores host_ip there).
        (
            "published=8080,target=80",
            r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "target=80,published=8080,protocol=udp,mode=host",
            r#"{"80/udp":[{"HostIp":"","HostPort":"8080"}]}"#,
            r#"{"80/udp":{}}"#,
        ),
        (
            "target=80",
            r#"{"80/tcp":[{"HostIp":"","HostPort":""}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
        (
            "target=80,published=8080,host_ip=127.0.0.1",
            r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}"#,
            r#"{"80/tcp":{}}"#,
        ),
    ];
    for (spec, bindings, exposed) in cases {
        assert_eq!(
            publish_json(&[spec]),
            Ok((bindings.to_string(), exposed.to_string())),
            "{spec}"
        );
    }
}

#[test]
fn several_publish_flags_accumulate() {
    // c1 of the reference: -p 8080:80 -p 127.0.0.1:9090:90/udp
    // -p 7000-7001:7000-7001 -p 5000.
    assert_eq!(
        publish_json(&["8080:80", "127.0.0.1:9090:90/udp", "7000-7001:7000-7001", "5000"]),
        Ok((
            r#"{"5000/tcp":[{"HostIp":"","HostPort":""}],"7000/tcp":[{"HostIp":"","HostPort":"7000"}],"7001/tcp":[{"HostIp":"","HostPort":"7001"}],"80/tcp":[{"HostIp":"","HostPort":"8080"}],"90/udp":[{"HostIp":"127.0.0.1","HostPort":"9090"}]}"#.to_string(),
            r#"{"5000/tcp":{},"7000/tcp":{},"7001/tcp":{},"80/tcp":{},"90/udp":{}}"#.to_string(),
        ))
    );
    // One container port published several times keeps every binding, in
    // order, even identical ones.
    assert_eq!(
        publish_json(&["8080:80", "8081:80", "127.0.0.1:8082:80"])
            .unwrap()
            .0,
        r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"},{"HostIp":"","HostPort":"8081"},{"HostIp":"127.0.0.1","HostPort":"8082"}]}"#
    );
    assert_eq!(
        publish_json(&["80:80", "80:80"]).unwrap().0,
        r#"{"80/tcp":[{"HostIp":"","HostPort":"80"},{"HostIp":"","HostPort":"80"}]}"#
    );
    assert_eq!(
        publish_json(&["8080:80", "80/udp"]).unwrap(),
        (
            r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"80/udp":[{"HostIp":"","HostPort":""}]}"#.to_string(),
            r#"{"80/tcp":{},"80/udp":{}}"#.to_string()
        )
    );
    // pp3 of the reference.
    assert_eq!(
        publish_json(&[
            "127.0.0.1:6001:6001",
            "127.0.0.1:6002:6002",
            "6003:6003",
            "6004:6005",
            "6005:6004",
            "20000-20001:30000",
            "6006:6006",
            "6008:6008",
            "6007:6007/udp",
        ])
        .unwrap()
        .0,
        r#"{"30000/tcp":[{"HostIp":"","HostPort":"20000-20001"}],"6001/tcp":[{"HostIp":"127.0.0.1","HostPort":"6001"}],"6002/tcp":[{"HostIp":"127.0.0.1","HostPort":"6002"}],"6003/tcp":[{"HostIp":"","HostPort":"6003"}],"6004/tcp":[{"HostIp":"","HostPort":"6005"}],"6005/tcp":[{"HostIp":"","HostPort":"6004"}],"6006/tcp":[{"HostIp":"","HostPort":"6006"}],"6007/udp":[{"HostIp":"","HostPort":"6007"}],"6008/tcp":[{"HostIp":"","HostPort":"6008"}]}"#
    );
    assert_eq!(parse_publish(&[]), Ok((PortMap::new(), BTreeSet::new())));
}

#[test]
fn publish_errors_are_dockers() {
    // `docker run -p SPEC` prints `docker: <this>.` and exits 125.
    let cases: &[(&str, &str)] = &[
        ("foo", "Invalid containerPort: foo"),
        ("99999:80", "Invalid hostPort: 99999"),
        ("80:80/sctpx", "Invalid proto: sctpx"),
        (
            "1-3:1-2",
            "Invalid ranges specified for container and host Ports: 1-2 and 1-3",
        ),
        ("1.2.3.4.5:80:80", "Invalid ip address: 1.2.3.4.5"),
        ("80-79:80", "Invalid hostPort: 80-79"),
        (
            "::1:80:80",
            "Invalid ip address ::1: address ::1:: too many colons in address",
        ),
        ("80:99999", "Invalid containerPort: 99999"),
        ("/tcp", "No port specified: /tcp<empty>"),
        ("1.2.3.4:80", "Invalid hostPort: 1.2.3.4"),
        (
            "[::1]:80",
            "Invalid ip address [:: address [::: missing ']' in address",
        ),
        ("1.2.3.4:", "No port specified: 1.2.3.4:<empty>"),
        ("a:80:80", "Invalid ip address: a"),
        ("localhost:80:80", "Invalid ip address: localhost"),
        (
            "80:90-91",
            "Invalid ranges specified for container and host Ports: 90-91 and 80",
        ),
        ("-1:80", "Invalid hostPort: -1"),
        ("80:-1", "Invalid containerPort: -1"),
        (
            "80:80:80:80",
            "Invalid ip address 80:80: address 80:80:: too many colons in address",
        ),
        ("[fe80::1%eth0]:80:80", "Invalid ip address: fe80::1%eth0"),
        ("65536:80", "Invalid hostPort: 65536"),
        ("80-65536:80", "Invalid hostPort: 80-65536"),
        (" 80", "Invalid containerPort:  80"),
        ("80 ", "Invalid containerPort: 80 "),
        ("8O:80", "Invalid hostPort: 8O"),
        ("::", "No port specified: ::<empty>"),
        (
            "[::1]",
            "Invalid ip address [: address [:: missing ']' in address",
        ),
        (
            "1.2.3.4:80:80:80",
            "Invalid ip address 1.2.3.4:80: address 1.2.3.4:80:: too many colons in address",
        ),
        (
            "::1:80",
            "Invalid ip address :: address ::: too many colons in address",
        ),
        ("1::80", "Invalid ip address: 1"),
        ("1:2:80", "Invalid ip address: 1"),
        ("80-", "Invalid containerPort: 80-"),
        ("-", "Invalid containerPort: -"),
        (
            "1]:80:80",
            "Invalid ip address 1]: address 1]:: unexpected ']' in address",
        ),
        (
            "[::1]x:80:80",
            "Invalid ip address [::1]x: address [::1]x:: missing port in address",
        ),
        (
            "[::1]:80:80:80",
            "Invalid ip address [::1]:80: address [::1]:80:: too many colons in address",
        ),
        (
            "[::1:80:80",
            "Invalid ip address [::1: address [::1:: missing ']' in address",
        ),
        (
            "a[b:80:80",
            "Invalid ip address a[b: address a[b:: unexpected '[' in address",
        ),
        ("", "No port specified: <empty>"),
        (
            "::ffff:1.2.3.4",
            "Invalid ip address :: address ::: too many colons in address",
        ),
        ("01.2.3.4:80:80", "Invalid ip address: 01.2.3.4"),
        ("1.2.3.4/24:80:80", "Invalid ip address: 1.2.3.4/24"),
        ("foo/sctpx", "Invalid containerPort: foo"),
        ("99999/sctpx", "Invalid containerPort: 99999"),
        ("80:80/sctpx/udp", "Invalid proto: sctpx"),
        ("80:foo", "Invalid containerPort: foo"),
        ("foo:80", "Invalid hostPort: foo"),
        ("foo:bar", "Invalid containerPort: bar"),
        (
            "80-81:90-92",
            "Invalid ranges specified for container and host Ports: 90-92 and 80-81",
        ),
        (
            "80-82:90-91",
            "Invalid ranges specified for container and host Ports: 90-91 and 80-82",
        ),
        // The long form.
        ("published=8080", "No port specified: 8080:/tcp<empty>"),
        (
            "target=80,published=8080,protocol=sctpx",
            "Invalid proto: sctpx",
        ),
        (
            "target=80,foo",
            "invalid publish opts format (should be name=value but got 'foo')",
        ),
        ("a=b", "No port specified: :/tcp<empty>"),
    ];
    for (spec, err) in cases {
        assert_eq!(parse_publish(&v(&[spec])), Err(err.to_string()), "{spec}");
    }
    // The first bad spec fails the lot.
    assert_eq!(
        parse_publish(&v(&["80:80", "foo", "bar"])),
        Err("Invalid containerPort: foo".into())
    );
}

#[test]
fn expose_specs() {
    let ok: &[(&[&str], &[&str])] = &[
        (
            &["80-82/udp", "9000"],
            &["80/udp", "81/udp", "82/udp", "9000/tcp"],
        ),
        (&["80/foo"], &["80/foo"]),
        (&["80/TCP"], &["80/TCP"]),
        (&["80-81-82"], &["80/tcp", "81/tcp"]),
        (&["80/"], &["80/tcp"]),
        (&["80/tcp/udp"], &["80/tcp"]),
        (&["7777", "7777/tcp"], &["7777/tcp"]),
        (&[], &[]),
    ];
    for (specs, want) in ok {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(parse_expose(&v(specs)), Ok(want), "{specs:?}");
    }
    let bad: &[(&str, &str)] = &[
        ("80:80", "invalid port format for --expose: 80:80"),
        (
            "foo",
            "invalid range format for --expose: foo, error: strconv.ParseUint: parsing \"foo\": invalid syntax",
        ),
        (
            "82-80",
            "invalid range format for --expose: 82-80, error: Invalid range specified for the Port: 82-80",
        ),
        (
            "/udp",
            "invalid range format for --expose: /udp, error: Empty string specified for ports.",
        ),
        ("", "invalid range format for --expose: , error: Empty string specified for ports."),
        (
            "99999",
            "invalid range format for --expose: 99999, error: strconv.ParseUint: parsing \"99999\": value out of range",
        ),
    ];
    for (spec, err) in bad {
        assert_eq!(parse_expose(&v(&[spec])), Err(err.to_string()), "{spec}");
    }
}

#[test]
fn publish_all_adds_ephemeral_bindings_for_unbound_ports() {
    let exposed: BTreeSet<String> = ["443/tcp", "80/tcp", "9100/tcp"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (bindings, _) = parse_publish(&v(&["127.0.0.1:9100:9100"])).unwrap();
    assert_eq!(
        serde_json::to_string(&publish_all(&exposed, &bindings)).unwrap(),
        r#"{"443/tcp":[{"HostIp":"","HostPort":""}],"80/tcp":[{"HostIp":"","HostPort":""}],"9100/tcp":[{"HostIp":"127.0.0.1","HostPort":"9100"}]}"#
    );
}

const C1: &str = r#"{"5000/tcp":[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"::","HostPort":"32768"}],"6000/tcp":null,"7000/tcp":[{"HostIp":"0.0.0.0","HostPort":"7000"},{"HostIp":"::","HostPort":"7000"}],"7001/tcp":[{"HostIp":"0.0.0.0","HostPort":"7001"},{"HostIp":"::","HostPort":"7001"}],"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"90/udp":[{"HostIp":"127.0.0.1","HostPort":"9090"}]}"#;

const V6: &str = r#"{"80/tcp":[{"HostIp":"::1","HostPort":"8097"}],"8098/tcp":[{"HostIp":"::1","HostPort":"8098"}],"81/tcp":[{"HostIp":"::","HostPort":"8099"}]}"#;

#[test]
fn ps_ports_column() {
    // NetworkSettings.Ports of a running container -> `docker ps` PORTS.
    let cases: &[(&str, &str)] = &[
        (
            C1,
            "6000/tcp, 0.0.0.0:7000-7001->7000-7001/tcp, :::7000-7001->7000-7001/tcp, 0.0.0.0:8080->80/tcp, :::8080->80/tcp, 127.0.0.1:9090->90/udp, 0.0.0.0:32768->5000/tcp, :::32768->5000/tcp",
        ),
        (
            r#"{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"32769"},{"HostIp":"::","HostPort":"32769"}],"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"32770"},{"HostIp":"::","HostPort":"32770"}]}"#,
            "0.0.0.0:32770->80/tcp, :::32770->80/tcp, 0.0.0.0:32769->443/tcp, :::32769->443/tcp",
        ),
        (
            r#"{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"32772"},{"HostIp":"::","HostPort":"32771"}],"5000/udp":[{"HostIp":"0.0.0.0","HostPort":"32770"},{"HostIp":"::","HostPort":"32770"}],"5001/udp":[{"HostIp":"0.0.0.0","HostPort":"32769"},{"HostIp":"::","HostPort":"32769"}],"5002/udp":[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"::","HostPort":"32768"}],"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"32773"},{"HostIp":"::","HostPort":"32772"}],"9000/tcp":[{"HostIp":"127.0.0.1","HostPort":"32771"}],"9100/tcp":[{"HostIp":"127.0.0.1","HostPort":"9100"}],"9200/udp":[{"HostIp":"0.0.0.0","HostPort":"9200"},{"HostIp":"::","HostPort":"9200"}],"9201/udp":[{"HostIp":"0.0.0.0","HostPort":"9201"},{"HostIp":"::","HostPort":"9201"}],"9202/udp":[{"HostIp":"0.0.0.0","HostPort":"9202"},{"HostIp":"::","HostPort":"9202"}],"9203/udp":[{"HostIp":"0.0.0.0","HostPort":"9203"},{"HostIp":"::","HostPort":"9203"}]}"#,
            "127.0.0.1:9100->9100/tcp, 0.0.0.0:9200-9203->9200-9203/udp, :::9200-9203->9200-9203/udp, 0.0.0.0:32773->80/tcp, :::32772->80/tcp, 0.0.0.0:32772->443/tcp, :::32771->443/tcp, 0.0.0.0:32770->5000/udp, :::32770->5000/udp, 0.0.0.0:32769->5001/udp, :::32769->5001/udp, 0.0.0.0:32768->5002/udp, :::32768->5002/udp, 127.0.0.1:32771->9000/tcp",
        ),
        (
            // A run that breaks is printed at once, before the open ones.
            r#"{"30000/tcp":[{"HostIp":"0.0.0.0","HostPort":"20001"},{"HostIp":"::","HostPort":"20001"}],"5000/tcp":null,"5001/tcp":null,"5003/tcp":null,"5004/tcp":null,"5010/udp":null,"6001/tcp":[{"HostIp":"127.0.0.1","HostPort":"6001"}],"6002/tcp":[{"HostIp":"127.0.0.1","HostPort":"6002"}],"6003/tcp":[{"HostIp":"0.0.0.0","HostPort":"6003"},{"HostIp":"::","HostPort":"6003"}],"6004/tcp":[{"HostIp":"0.0.0.0","HostPort":"6005"},{"HostIp":"::","HostPort":"6005"}],"6005/tcp":[{"HostIp":"0.0.0.0","HostPort":"6004"},{"HostIp":"::","HostPort":"6004"}],"6006/tcp":[{"HostIp":"0.0.0.0","HostPort":"6006"},{"HostIp":"::","HostPort":"6006"}],"6007/udp":[{"HostIp":"0.0.0.0","HostPort":"6007"},{"HostIp":"::","HostPort":"6007"}],"6008/tcp":[{"HostIp":"0.0.0.0","HostPort":"6008"},{"HostIp":"::","HostPort":"6008"}]}"#,
            "5000-5001/tcp, 0.0.0.0:6003->6003/tcp, :::6003->6003/tcp, 0.0.0.0:6006->6006/tcp, :::6006->6006/tcp, 5003-5004/tcp, 5010/udp, 127.0.0.1:6001-6002->6001-6002/tcp, 0.0.0.0:6008->6008/tcp, :::6008->6008/tcp, 0.0.0.0:6007->6007/udp, :::6007->6007/udp, 0.0.0.0:6005->6004/tcp, :::6005->6004/tcp, 0.0.0.0:6004->6005/tcp, :::6004->6005/tcp, 0.0.0.0:20001->30000/tcp, :::20001->30000/tcp",
        ),
        (
            r#"{"81/tcp":[{"HostIp":"0.0.0.0","HostPort":"8181"},{"HostIp":"::","HostPort":"8181"}]}"#,
            "0.0.0.0:8181->81/tcp, :::8181->81/tcp",
        ),
        (V6, "::1:8098->8098/tcp, ::1:8097->80/tcp, :::8099->81/tcp"),
        (
            // -p 53:53 -p 53:53/udp --expose 100-103 --expose 104/udp
            r#"{"100/tcp":null,"101/tcp":null,"102/tcp":null,"103/tcp":null,"104/udp":null,"53/tcp":[{"HostIp":"0.0.0.0","HostPort":"53"},{"HostIp":"::","HostPort":"53"}],"53/udp":[{"HostIp":"0.0.0.0","HostPort":"53"},{"HostIp":"::","HostPort":"53"}]}"#,
            "0.0.0.0:53->53/tcp, 0.0.0.0:53->53/udp, :::53->53/tcp, :::53->53/udp, 100-103/tcp, 104/udp",
        ),
        // Stopped, created, host, none and container: containers have none.
        ("{}", ""),
    ];
    for (json, want) in cases {
        assert_eq!(format_ports(&ports(json)), *want, "{json}");
    }
}

#[test]
fn docker_port_lines() {
    let c1 = ports(C1);
    // Docker's order is random; berth's is by container port.
    assert_eq!(
        port_lines(&c1, None, "c1").unwrap(),
        [
            "80/tcp -> 0.0.0.0:8080",
            "80/tcp -> :::8080",
            "90/udp -> 127.0.0.1:9090",
            "5000/tcp -> 0.0.0.0:32768",
            "5000/tcp -> :::32768",
            "7000/tcp -> 0.0.0.0:7000",
            "7000/tcp -> :::7000",
            "7001/tcp -> 0.0.0.0:7001",
            "7001/tcp -> :::7001",
        ]
    );
    let ok: &[(&str, &[&str])] = &[
        ("80", &["0.0.0.0:8080", ":::8080"]),
        ("80/tcp", &["0.0.0.0:8080", ":::8080"]),
        ("080", &["0.0.0.0:8080", ":::8080"]),
        ("90/udp", &["127.0.0.1:9090"]),
    ];
    for (want, lines) in ok {
        assert_eq!(port_lines(&c1, Some(want), "c1").unwrap(), *lines, "{want}");
    }
    let bad: &[(&str, &str)] = &[
        ("90", "Error: No public port '90/tcp' published for c1"),
        ("81", "Error: No public port '81/tcp' published for c1"),
        ("81/udp", "Error: No public port '81/udp' published for c1"),
        ("6000", "Error: No public port '6000/tcp' published for c1"),
        (
            "7000-7001",
            "Error: No public port '7000-7001/tcp' published for c1",
        ),
        (
            "80/sctp",
            "Error: No public port '80/sctp' published for c1",
        ),
        ("80/foo", "Error: No public port '80/foo' published for c1"),
        ("foo", "strconv.ParseUint: parsing \"foo\": invalid syntax"),
        ("0", "Error: No public port '0/tcp' published for c1"),
        (
            "70000",
            "strconv.ParseUint: parsing \"70000\": value out of range",
        ),
        ("81/", "strconv.ParseUint: parsing \"81/\": invalid syntax"),
        ("/udp", "Error: No public port '/udp' published for c1"),
        (" 80", "strconv.ParseUint: parsing \" 80\": invalid syntax"),
    ];
    for (want, err) in bad {
        assert_eq!(
            port_lines(&c1, Some(want), "c1"),
            Err(err.to_string()),
            "{want}"
        );
    }
    let v6 = ports(V6);
    assert_eq!(port_lines(&v6, Some("80"), "v6").unwrap(), ["::1:8097"]);
    assert_eq!(
        port_lines(&v6, None, "v6").unwrap(),
        [
            "80/tcp -> ::1:8097",
            "81/tcp -> :::8099",
            "8098/tcp -> ::1:8098"
        ]
    );
    // Nothing published: no lines at all; a port asked for is an error.
    let none = ports("{}");
    assert_eq!(port_lines(&none, None, "nn").unwrap(), Vec::<String>::new());
    assert_eq!(
        port_lines(&none, Some("80"), "nn"),
        Err("Error: No public port '80/tcp' published for nn".into())
    );
}
