//! Container names: Docker's validation, random `adjective_surname` names,
//! and claiming a name atomically with a symlink (`container-names/<name>`).

use std::path::Path;

use crate::{Error, Result};

const ADJECTIVES: &[&str] = &[
    "admiring",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "cool",
    "compassionate",
    "competent",
    "confident",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "austin",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "boyd",
    "brahmagupta",
    "brattain",
    "brown",
    "carson",
    "cerf",
    "chandrasekhar",
    "chaplygin",
    "clarke",
    "cohen",
    "curie",
    "darwin",
    "davinci",
    "dijkstra",
    "dirac",
    "driscoll",
    "dubinsky",
    "easley",
    "edison",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goldberg",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hodgkin",
    "hoover",
    "hopper",
    "hypatia",
    "jackson",
    "jennings",
    "johnson",
    "kapitsa",
    "keller",
    "kepler",
    "knuth",
    "lalande",
    "lamport",
    "leakey",
    "lovelace",
    "lumiere",
    "margulis",
    "mayer",
    "mcclintock",
    "meitner",
    "mendel",
    "minsky",
    "morse",
    "napier",
    "newton",
    "noether",
    "northcutt",
    "pascal",
    "pasteur",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "ritchie",
    "sammet",
    "shannon",
    "shockley",
    "sinoussi",
    "stonebraker",
    "swanson",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wilbur",
    "wiles",
    "williams",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, optionally after a `/`.
pub fn validate(name: &str) -> Result<String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    let ok = n.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(n.to_string())
    } else {
        Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

pub fn random_name(seed: u64) -> String {
    let a = ADJECTIVES[(seed % ADJECTIVES.len() as u64) as usize];
    let s = SURNAMES[((seed >> 16) % SURNAMES.len() as u64) as usize];
    format!("{a}_{s}")
}

/// The id a name points at, if the name is taken by an existing container.
pub fn lookup(names_dir: &Path, containers_dir: &Path, name: &str) -> Option<String> {
    let target = std::fs::read_link(names_dir.join(name)).ok()?;
    let id = target.to_str()?.to_string();
    containers_dir
        .join(&id)
        .join("container.json")
        .exists()
        .then_some(id)
}

/// Claim `name` for `id`; a link left by a removed container is reused.
pub fn claim(names_dir: &Path, containers_dir: &Path, name: &str, id: &str) -> Result<()> {
    let link = names_dir.join(name);
    for _ in 0..3 {
        match std::os::unix::fs::symlink(id, &link) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Some(owner) = lookup(names_dir, containers_dir, name) {
                    if owner == id {
                        return Ok(());
                    }
                    return Err(Error::conflict(format!(
                        "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
                    )));
                }
                // Stale: its container is gone. Replace atomically via rename.
                let tmp = names_dir.join(format!(".{name}.{id}"));
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(id, &tmp)
                    .map_err(|e| Error::new(crate::ErrorKind::Internal, e.to_string()))?;
                // Re-check right before replacing, so a racing claimer keeps its name.
                if lookup(names_dir, containers_dir, name).is_none() {
                    std::fs::rename(&tmp, &link)
                        .map_err(|e| Error::new(crate::ErrorKind::Internal, e.to_string()))?;
                    return Ok(());
                }
                let _ = std::fs::remove_file(&tmp);
            }
            Err(e) => {
                return Err(Error::new(
                    crate::ErrorKind::Internal,
                    format!("claim name {name}: {e}"),
                ))
            }
        }
    }
    Err(Error::conflict(format!(
        "name {name} is being claimed concurrently"
    )))
}

/// Release `name` if it still points at `id`.
pub fn release(names_dir: &Path, name: &str, id: &str) {
    let link = names_dir.join(name);
    if std::fs::read_link(&link)
        .ok()
        .as_deref()
        .and_then(|p| p.to_str())
        == Some(id)
    {
        let _ = std::fs::remove_file(link);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rules() {
        assert_eq!(validate("web-1").unwrap(), "web-1");
        assert_eq!(validate("/web").unwrap(), "web");
        for bad in ["a", "-x", "a b", "x/y", "é1", "_ab"] {
            assert_eq!(
                validate(bad).unwrap_err().message,
                format!(
                    "Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )
            );
        }
    }

    #[test]
    fn claim_conflict_and_stale_reuse() {
        let d = tempfile::tempdir().unwrap();
        let names = d.path().join("n");
        let cont = d.path().join("c");
        std::fs::create_dir_all(&names).unwrap();
        std::fs::create_dir_all(cont.join("id1")).unwrap();
        std::fs::write(cont.join("id1/container.json"), "{}").unwrap();
        claim(&names, &cont, "web", "id1").unwrap();
        let e = claim(&names, &cont, "web", "id2").unwrap_err();
        assert!(e.message.contains("is already in use by container \"id1\""));
        std::fs::remove_dir_all(cont.join("id1")).unwrap();
        claim(&names, &cont, "web", "id2").unwrap();
        assert_eq!(
            std::fs::read_link(names.join("web")).unwrap().to_str(),
            Some("id2")
        );
    }
}
