//! What a delivery carries: a lead's domain event ([`LeadEventType`]) or
//! an operational event about Leadpipe itself ([`OpsEventType`], raised by
//! [`crate::ops`]). Stored and sent as the contract spells it
//! (`lead.created`, `delivery.exhausted`…), one plain string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::history::LeadEventType;

/// Operational events: something an operator must hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpsEventType {
    /// A delivery spent its retry schedule (or met a 410): it is dead,
    /// parked and redrivable. Carries the lead, the subscription, the last
    /// answer and a snapshot of the request.
    DeliveryExhausted,
    /// A delivery that had been reported (exhausted, or the probe of a
    /// failing subscription) got through.
    DeliveryRecovered,
    /// A subscription's deliveries failed N times in a row: they are held
    /// while one probe retries.
    SubscriptionFailing,
    /// A subscription was disabled (410 Gone, or failing for the span);
    /// its configuration is kept.
    SubscriptionDisabled,
    /// A source stopped working (e.g. a Meta page token Graph rejects, or
    /// the app dropped from the page's `subscribed_apps`).
    SourceFailing,
}

impl OpsEventType {
    pub const ALL: [OpsEventType; 5] = [
        Self::DeliveryExhausted,
        Self::DeliveryRecovered,
        Self::SubscriptionFailing,
        Self::SubscriptionDisabled,
        Self::SourceFailing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeliveryExhausted => "delivery.exhausted",
            Self::DeliveryRecovered => "delivery.recovered",
            Self::SubscriptionFailing => "subscription.failing",
            Self::SubscriptionDisabled => "subscription.disabled",
            Self::SourceFailing => "source.failing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The type of what a delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Lead(LeadEventType),
    Ops(OpsEventType),
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead(t) => t.as_str(),
            Self::Ops(t) => t.as_str(),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        LeadEventType::parse(text)
            .map(Self::Lead)
            .or_else(|| OpsEventType::parse(text).map(Self::Ops))
    }

    /// The lead event, when it is one.
    pub fn lead(self) -> Option<LeadEventType> {
        match self {
            Self::Lead(t) => Some(t),
            Self::Ops(_) => None,
        }
    }

    pub fn is_ops(self) -> bool {
        matches!(self, Self::Ops(_))
    }
}

impl From<LeadEventType> for EventType {
    fn from(t: LeadEventType) -> Self {
        Self::Lead(t)
    }
}

impl PartialEq<LeadEventType> for EventType {
    fn eq(&self, other: &LeadEventType) -> bool {
        *self == EventType::Lead(*other)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event type {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_as_one_string() {
        let all = LeadEventType::ALL
            .into_iter()
            .map(EventType::Lead)
            .chain(OpsEventType::ALL.into_iter().map(EventType::Ops));
        for t in all {
            let v = serde_json::to_value(t).unwrap();
            assert_eq!(v, serde_json::json!(t.as_str()));
            assert_eq!(serde_json::from_value::<EventType>(v).unwrap(), t);
        }
        assert!(serde_json::from_value::<EventType>(serde_json::json!("lead.nope")).is_err());
        assert_eq!(EventType::parse("*"), None);
    }

    #[test]
    fn a_lead_event_type_reads_as_before() {
        // Deliveries stored before operational events carry the plain
        // lead event string.
        let t: EventType = serde_json::from_str("\"lead.re_engaged\"").unwrap();
        assert_eq!(t, LeadEventType::ReEngaged);
        assert!(!t.is_ops());
    }
}
