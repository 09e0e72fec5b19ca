//! Prefixed, sortable identifiers: `evt_01JS…`, `lead_…`, `key_…`, `sub_…`,
//! `dlv_…`.
//!
//! The part after the prefix is a ULID in lower-case Crockford base32: 48
//! bits of milliseconds then 80 random bits, 26 characters. Ids of one kind
//! sort by creation time, so listing by id lists oldest first.

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The kinds of identifier Leadpipe hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Event,
    Lead,
    Key,
    Subscription,
    Delivery,
    Change,
    Request,
    Workspace,
    Token,
    Audit,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Event => "evt_",
            IdKind::Lead => "lead_",
            IdKind::Key => "key_",
            IdKind::Subscription => "sub_",
            IdKind::Delivery => "dlv_",
            IdKind::Change => "chg_",
            IdKind::Request => "req_",
            IdKind::Workspace => "ws_",
            IdKind::Token => "tok_",
            IdKind::Audit => "aud_",
        }
    }
}

/// A fresh id of `kind`, created now.
pub fn new_id(kind: IdKind) -> String {
    new_id_at(kind, crate::rules::clock::now_ms().max(0) as u64)
}

/// A fresh id of `kind` with the given millisecond timestamp.
pub fn new_id_at(kind: IdKind, ms: u64) -> String {
    let mut random = [0u8; 10];
    crate::rules::crypto::fill_random(&mut random);
    encode(kind, ms, &random)
}

fn encode(kind: IdKind, ms: u64, random: &[u8]) -> String {
    let mut value: u128 = u128::from(ms & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    let mut out = String::with_capacity(kind.prefix().len() + 26);
    out.push_str(kind.prefix());
    for i in (0..26).rev() {
        let idx = ((value >> (5 * i)) & 0x1f) as usize;
        out.push(char::from(ALPHABET[idx]));
    }
    out
}

/// The smallest (`upper` false) or largest id of `kind` created at
/// millisecond `ms`: bounds for a range of time-ordered ids.
pub fn bound_at(kind: IdKind, ms: u64, upper: bool) -> String {
    encode(kind, ms, &[if upper { 0xff } else { 0 }; 10])
}

/// An id of `kind` that is the same every time for the same `seed`: its
/// time part is `ms`, its random part comes from SHA-256 of the seed. Used
/// where a retried step must produce the same id (a delivery per event and
/// subscription).
pub fn derived_id(kind: IdKind, ms: u64, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    encode(kind, ms, &digest[..10])
}

/// True when `id` is a well-formed id of `kind`. Used to reject garbage in a
/// path before it reaches the store.
pub fn is_valid(kind: IdKind, id: &str) -> bool {
    match id.strip_prefix(kind.prefix()) {
        Some(rest) => rest.len() == 26 && rest.bytes().all(|b| ALPHABET.contains(&b)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_valid_and_sortable() {
        let a = new_id_at(IdKind::Event, 1_000);
        let b = new_id_at(IdKind::Event, 2_000);
        assert!(a.starts_with("evt_"));
        assert_eq!(a.len(), 30);
        assert!(is_valid(IdKind::Event, &a));
        assert!(!is_valid(IdKind::Lead, &a));
        assert!(a < b);
    }

    #[test]
    fn bounds_enclose_every_id_of_their_millisecond() {
        let id = new_id_at(IdKind::Delivery, 5_000);
        assert!(bound_at(IdKind::Delivery, 5_000, false) <= id);
        assert!(id <= bound_at(IdKind::Delivery, 5_000, true));
        assert!(bound_at(IdKind::Delivery, 4_999, true) < id);
        assert!(id < bound_at(IdKind::Delivery, 5_001, false));
    }

    #[test]
    fn rejects_garbage() {
        assert!(!is_valid(IdKind::Key, "key_"));
        assert!(!is_valid(IdKind::Key, "key_../../etc/passwd"));
        assert!(!is_valid(IdKind::Key, "key_0123456789ABCDEFGHJKMNPQRS"));
    }

    #[test]
    fn ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(new_id(IdKind::Lead)));
        }
    }
}

/// One id type per entity: a `LeadId` cannot be passed where an `EventId`
/// is wanted. Stored and sent as the plain string (serde transparent).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh id, created now.
            pub fn generate() -> Self {
                $name(new_id($kind))
            }

            /// `text` when it is a well-formed id of this kind.
            pub fn parse(text: &str) -> Option<Self> {
                is_valid($kind, text).then(|| $name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        /// Read as the plain string it is (a key, a header, a log field).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A lead (`lead_…`).
    LeadId,
    IdKind::Lead
);
id_type!(
    /// An inbound event (`evt_…`).
    EventId,
    IdKind::Event
);
id_type!(
    /// An admin change to a lead (`chg_…`).
    ChangeId,
    IdKind::Change
);
id_type!(
    /// A webhook key, a source of leads (`key_…`).
    KeyId,
    IdKind::Key
);
id_type!(
    /// A subscription, a destination of deliveries (`sub_…`).
    SubscriptionId,
    IdKind::Subscription
);
id_type!(
    /// A delivery of one event to one subscription (`dlv_…`).
    DeliveryId,
    IdKind::Delivery
);
id_type!(
    /// A workspace's API token (`tok_…`).
    TokenId,
    IdKind::Token
);
id_type!(
    /// An entry of a workspace's audit trail (`aud_…`).
    AuditId,
    IdKind::Audit
);

/// The workspace every item belongs to: `ws_…`, or `default`, the one an
/// existing deployment's items and the root token without a
/// `Leadpipe-Workspace` header act in. Stored and sent as the plain string.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    /// The id of the default workspace.
    pub const DEFAULT: &'static str = "default";

    /// The default workspace.
    pub fn default_workspace() -> Self {
        WorkspaceId(Self::DEFAULT.to_owned())
    }

    /// A fresh workspace id, created now.
    pub fn generate() -> Self {
        WorkspaceId(new_id(IdKind::Workspace))
    }

    /// `text` when it is `default` or a well-formed `ws_…` id.
    pub fn parse(text: &str) -> Option<Self> {
        (text == Self::DEFAULT || is_valid(IdKind::Workspace, text))
            .then(|| WorkspaceId(text.to_owned()))
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for WorkspaceId {
    fn default() -> Self {
        Self::default_workspace()
    }
}

impl std::fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What caused a lead's history entry: an inbound event, or an admin
/// change. Stored as the id itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CauseId(String);

impl CauseId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&EventId> for CauseId {
    fn from(id: &EventId) -> Self {
        CauseId(id.0.clone())
    }
}

impl From<&ChangeId> for CauseId {
    fn from(id: &ChangeId) -> Self {
        CauseId(id.0.clone())
    }
}

impl std::fmt::Display for CauseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod typed_tests {
    use super::*;

    #[test]
    fn typed_ids_parse_only_their_kind_and_stay_plain_strings() {
        let lead = LeadId::generate();
        assert_eq!(LeadId::parse(lead.as_str()), Some(lead.clone()));
        assert_eq!(EventId::parse(lead.as_str()), None);
        assert_eq!(
            serde_json::to_value(&lead).unwrap(),
            serde_json::json!(lead.as_str())
        );
        let evt = EventId::generate();
        assert_eq!(CauseId::from(&evt).as_str(), evt.as_str());
    }

    #[test]
    fn workspace_ids_are_default_or_prefixed() {
        assert!(WorkspaceId::parse("default").unwrap().is_default());
        let ws = WorkspaceId::generate();
        assert!(ws.as_str().starts_with("ws_"));
        assert_eq!(WorkspaceId::parse(ws.as_str()), Some(ws.clone()));
        assert!(!ws.is_default());
        for bad in [
            "",
            "Default",
            "ws_",
            "ws_x",
            "default ",
            "key_0123456789abcdefghjkmnpqrs",
        ] {
            assert_eq!(WorkspaceId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(WorkspaceId::default(), WorkspaceId::default_workspace());
    }
}
