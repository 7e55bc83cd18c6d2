//! Channel ids: which document of a tenant a subscriber follows.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// One channel of a tenant. Its text form is `overview`, `queue:{uuid}` or `agent:{dn}`;
/// [`fmt::Display`] and [`FromStr`] convert both ways and round-trip.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelId {
    /// Every queue of the tenant in summary, with totals.
    Overview,
    /// One queue in detail.
    Queue(Uuid),
    /// One agent, by extension number.
    Agent(String),
}

/// Why a text is not a channel id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelIdError {
    /// Neither `overview` nor a `queue:` or `agent:` prefix.
    #[error("unknown channel `{0}`: expected `overview`, `queue:{{uuid}}` or `agent:{{dn}}`")]
    Unknown(String),
    /// `queue:` followed by something that is not a UUID.
    #[error("invalid queue id in channel `queue:{0}`: expected a UUID")]
    InvalidQueueId(String),
    /// `agent:` followed by nothing, or by whitespace or control characters.
    #[error("invalid agent extension in channel `agent:{0}`: expected a non-empty extension without spaces")]
    InvalidAgentDn(String),
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelId::Overview => f.write_str("overview"),
            ChannelId::Queue(id) => write!(f, "queue:{id}"),
            ChannelId::Agent(dn) => write!(f, "agent:{dn}"),
        }
    }
}

impl FromStr for ChannelId {
    type Err = ChannelIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "overview" {
            return Ok(ChannelId::Overview);
        }
        if let Some(id) = s.strip_prefix("queue:") {
            return Uuid::parse_str(id)
                .map(ChannelId::Queue)
                .map_err(|_| ChannelIdError::InvalidQueueId(id.to_string()));
        }
        if let Some(dn) = s.strip_prefix("agent:") {
            let valid = !dn.is_empty() && !dn.chars().any(|c| c.is_whitespace() || c.is_control());
            return if valid {
                Ok(ChannelId::Agent(dn.to_string()))
            } else {
                Err(ChannelIdError::InvalidAgentDn(dn.into()))
            };
        }
        Err(ChannelIdError::Unknown(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_round_trip_through_text() {
        let queue = Uuid::from_u128(7);
        for id in [ChannelId::Overview, ChannelId::Queue(queue), ChannelId::Agent("101".into())] {
            assert_eq!(id.to_string().parse::<ChannelId>(), Ok(id));
        }
        assert_eq!(queue.to_string(), "00000000-0000-0000-0000-000000000007");
        assert_eq!(ChannelId::Queue(queue).to_string(), "queue:00000000-0000-0000-0000-000000000007");
    }

    #[test]
    fn malformed_channel_ids_are_rejected_with_the_reason() {
        let cases = [
            ("", ChannelIdError::Unknown("".into())),
            ("overviews", ChannelIdError::Unknown("overviews".into())),
            ("queue:", ChannelIdError::InvalidQueueId("".into())),
            ("queue:not-a-uuid", ChannelIdError::InvalidQueueId("not-a-uuid".into())),
            ("agent:", ChannelIdError::InvalidAgentDn("".into())),
            ("agent:1 01", ChannelIdError::InvalidAgentDn("1 01".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<ChannelId>(), Err(expected), "{text:?}");
        }
    }
}
