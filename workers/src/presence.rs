//! Agent presence of a PBX connection: the users (extension, name, queue status, presence
//! profile) and the queues' members, read from 3CX and stored as the connection's agents
//! ([`lineup_store::PbxStore::sync_pbx_agents`]) for the live hub.
//!
//! 3CX's `QueueStatus` tells whether an agent is logged in to the queues; a presence profile
//! other than `Available` (`Away`, `Out of office`, `Custom 1`…) counts as a break (paused).
//! Ringing, talking and wrap-up come from calls, not from here.

use std::collections::BTreeMap;

use lineup_domain::PbxAgent;
use lineup_xapi::generated::types::{Queue, QueueStatusType, User};
use lineup_xapi::{Query, XapiClient, XapiError};

/// The presence profile of an agent at work.
pub const AVAILABLE_PROFILE: &str = "Available";

/// Every user with an extension, with what presence needs.
pub async fn read_users(client: &XapiClient) -> Result<Vec<User>, XapiError> {
    let query = Query::new().select(["Number", "FirstName", "LastName", "QueueStatus", "CurrentProfileName"]);
    client.collect_all(query, |c, q| async move { c.list_users(&q).await }).await
}

/// The queues each agent (by extension) is a member of, each list ascending.
pub async fn read_members(client: &XapiClient) -> Result<BTreeMap<String, Vec<String>>, XapiError> {
    let query = Query::new().select(["Number"]).expand_with("Agents", Query::new().select(["Number"]));
    let queues = client.collect_all(query, |c, q| async move { c.list_queues(&q).await }).await?;
    Ok(members_of(&queues))
}

/// Agent extension → the DNs of the queues listing it as an agent.
pub fn members_of(queues: &[Queue]) -> BTreeMap<String, Vec<String>> {
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for queue in queues {
        let Some(queue_dn) = queue.number.as_deref().filter(|n| !n.is_empty()) else { continue };
        for agent in queue.agents.iter().flatten() {
            if let Some(dn) = agent.number.as_deref().filter(|n| !n.is_empty()) {
                members.entry(dn.to_string()).or_default().push(queue_dn.to_string());
            }
        }
    }
    for dns in members.values_mut() {
        dns.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
        dns.dedup();
    }
    members
}

/// The agents the users are: every user with an extension (users without one are skipped).
pub fn agents_of(users: &[User], members: &BTreeMap<String, Vec<String>>) -> Vec<PbxAgent> {
    users
        .iter()
        .filter_map(|user| {
            let dn = user.number.as_deref().filter(|n| !n.is_empty())?.to_string();
            let name = [user.first_name.as_deref(), user.last_name.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let profile = user.current_profile_name.as_deref().unwrap_or(AVAILABLE_PROFILE);
            Some(PbxAgent {
                name: if name.is_empty() { dn.clone() } else { name },
                queue_dns: members.get(&dn).cloned().unwrap_or_default(),
                logged_in: user.queue_status == Some(QueueStatusType::LoggedIn),
                paused: !profile.eq_ignore_ascii_case(AVAILABLE_PROFILE),
                dn,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use lineup_xapi::generated::types::QueueAgent;

    use super::*;

    fn queue(dn: &str, agents: &[&str]) -> Queue {
        let agents = agents.iter().map(|a| QueueAgent { number: Some(a.to_string()), ..QueueAgent::default() });
        Queue { number: Some(dn.into()), agents: Some(agents.collect()), ..Queue::default() }
    }

    #[test]
    fn users_become_agents_with_their_queues_login_and_break() {
        let members = members_of(&[queue("801", &["101", "102"]), queue("800", &["101"]), queue("", &["103"])]);
        assert_eq!(members["101"], ["800", "801"]);
        assert!(!members.contains_key("103"), "a queue without a number is skipped");
        let user = |n: &str, status: Option<QueueStatusType>, profile: Option<&str>| User {
            number: Some(n.into()),
            first_name: Some("Ana".into()),
            last_name: Some(" Lima ".into()),
            queue_status: status,
            current_profile_name: profile.map(str::to_string),
            ..User::default()
        };
        let users = [
            user("101", Some(QueueStatusType::LoggedIn), Some("Available")),
            user("102", Some(QueueStatusType::LoggedIn), Some("Away")),
            user("103", Some(QueueStatusType::LoggedOut), None),
            User { number: Some(String::new()), ..User::default() },
            User { number: Some("104".into()), ..User::default() },
        ];
        let agents = agents_of(&users, &members);
        assert_eq!(agents.len(), 4, "the user without an extension is skipped");
        assert_eq!(
            agents[0],
            PbxAgent {
                dn: "101".into(),
                name: "Ana Lima".into(),
                queue_dns: vec!["800".into(), "801".into()],
                logged_in: true,
                paused: false
            }
        );
        assert!(agents[1].logged_in && agents[1].paused);
        assert!(!agents[2].logged_in && !agents[2].paused && agents[2].queue_dns.is_empty());
        assert_eq!((agents[3].name.as_str(), agents[3].logged_in), ("104", false), "named by extension");
    }
}
