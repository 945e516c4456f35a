//! Names derived from an Incident, stable across retries and restarts, so that repeating a
//! step finds what the first attempt made instead of making it again.

/// The tag every resource made for an Incident carries: `<namespace>/<name>`.
pub const INCIDENT_TAG: &str = "dontpanic.dev/incident";
/// The tag naming the step (its index) that made a resource.
pub const STEP_TAG: &str = "dontpanic.dev/step";

/// FNV-1a: a hash that never changes between builds, unlike the standard library's.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The EC2 `ClientToken` of a launch: at most 64 ASCII characters, the same for every attempt
/// of one step of one Incident.
pub fn client_token(incident_uid: &str, step_index: usize) -> String {
    let plain = format!("dontpanic-{incident_uid}-{step_index}");
    if plain.len() <= 64 && plain.is_ascii() {
        plain
    } else {
        format!("dontpanic-{:016x}-{step_index}", fnv1a(incident_uid))
    }
}

/// Lowercase letters, digits and single hyphens only.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// The identifier a restored DB instance gets: `dp-<incident name>-<uid prefix>-<step>`,
/// shortened to a valid RDS identifier (1-63 letters, digits and hyphens, starting with a
/// letter, no double or trailing hyphen).
pub fn restored_db_identifier(incident_name: &str, incident_uid: &str, step_index: usize) -> String {
    let uid = slug(incident_uid).replace('-', "");
    let uid = &uid[..uid.len().min(8)];
    let suffix = if uid.is_empty() {
        format!("s{step_index}")
    } else {
        format!("{uid}-s{step_index}")
    };
    let room = 63 - "dp-".len() - 1 - suffix.len();
    let mut name = slug(incident_name);
    name.truncate(room);
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        format!("dp-{suffix}")
    } else {
        format!("dp-{name}-{suffix}")
    }
}

/// Whether `id` is a valid RDS DB instance identifier.
pub fn valid_db_identifier(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--")
}

/// The name of the AMI `createImageFirst` makes from a failing instance (3-128 characters).
pub fn created_image_name(namespace: &str, incident_name: &str, incident_uid: &str, step_index: usize) -> String {
    let uid: String = incident_uid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect();
    let mut name = format!(
        "dontpanic-{}-{}-{uid}-s{step_index}",
        slug(namespace),
        slug(incident_name)
    );
    name.truncate(128);
    name
}

/// An AMI as far as choosing one goes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    /// ISO 8601, as EC2 reports it; compares in time order.
    pub created: String,
    pub available: bool,
}

/// The newest available image; ties go to the greater ID so that the choice is stable.
pub fn newest_image(images: &[ImageInfo]) -> Option<&ImageInfo> {
    images
        .iter()
        .filter(|i| i.available)
        .max_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "3f2a9c1e-77b0-4d2e-9a51-0c6c1f0e8d42";

    #[test]
    fn the_client_token_is_stable_and_short() {
        let t = client_token(UID, 0);
        assert_eq!(t, client_token(UID, 0));
        assert_ne!(t, client_token(UID, 1));
        assert!(t.len() <= 64, "{t}");
        let long = "x".repeat(200);
        let t = client_token(&long, 3);
        assert!(t.len() <= 64 && t.ends_with("-3"), "{t}");
        assert_eq!(t, client_token(&long, 3));
        assert_ne!(t, client_token(&"y".repeat(200), 3));
    }

    #[test]
    fn restored_identifiers_are_valid_rds_identifiers() {
        let id = restored_db_identifier("orders-db-down", UID, 0);
        assert_eq!(id, "dp-orders-db-down-3f2a9c1e-s0");
        assert!(valid_db_identifier(&id));
        for name in [
            "9lives",
            "a..b__c",
            "---",
            "",
            &"very-long-incident-name-".repeat(10),
            "UPPER.case.Name",
        ] {
            let id = restored_db_identifier(name, UID, 12);
            assert!(valid_db_identifier(&id), "{name:?} gave {id:?}");
            assert_eq!(id, restored_db_identifier(name, UID, 12), "stable");
        }
        assert!(valid_db_identifier(&restored_db_identifier("x", "", 0)));
        assert!(!valid_db_identifier("1abc"));
        assert!(!valid_db_identifier("a--b"));
        assert!(!valid_db_identifier("abc-"));
        assert!(!valid_db_identifier(&"a".repeat(64)));
    }

    #[test]
    fn created_image_names_are_stable_and_bounded() {
        let n = created_image_name("shop", "web-down", UID, 1);
        assert_eq!(n, "dontpanic-shop-web-down-3f2a9c1e-s1");
        assert!(created_image_name("a", &"b".repeat(300), UID, 1).len() <= 128);
    }

    fn img(id: &str, created: &str, available: bool) -> ImageInfo {
        ImageInfo {
            id: id.into(),
            name: format!("web-{id}"),
            created: created.into(),
            available,
        }
    }

    #[test]
    fn the_newest_available_image_is_chosen() {
        let images = vec![
            img("ami-1", "2026-01-01T00:00:00.000Z", true),
            img("ami-3", "2026-03-01T00:00:00.000Z", false),
            img("ami-2", "2026-02-01T00:00:00.000Z", true),
        ];
        assert_eq!(newest_image(&images).unwrap().id, "ami-2");
        assert_eq!(newest_image(&[]), None);
        assert_eq!(newest_image(&images[1..2]), None);
        let tie = vec![
            img("ami-a", "2026-01-01T00:00:00.000Z", true),
            img("ami-b", "2026-01-01T00:00:00.000Z", true),
        ];
        assert_eq!(newest_image(&tie).unwrap().id, "ami-b");
    }
}
