//! The storage conformance suite: every storage behaviour, tested once, run unchanged against
//! every backend. A backend crate runs it with
//! `lineup_store::conformance_suite!(path::to::factory);` in a test file, where the factory is an
//! `async fn() -> DynStore` returning a migrated store. Every test makes its own tenant, so tests
//! may share one database and run in parallel.
//!
//! The tests live by subject: [`queue`] (templates, queues, sessions, their statuses and tenant
//! isolation), [`items`] (items, numbering, events), [`access`] (tenants, members, the audit log)
//! and [`credentials`] (logins, API keys, stream tickets). This module holds the macro that lists
//! them all and the fixtures they share.

pub mod access;
pub mod credentials;
pub mod items;
pub mod queue;

use lineup_domain::{
    DomainError, NewItem, NewQueue, NewSession, NewTemplate, NewTemplateStatus, StatusChangeRequest, Transition,
    TransitionFrom,
};
use uuid::Uuid;

use crate::{DynStore, Entity, StoreError};

/// Generates one `#[tokio::test]` per conformance test, each calling `$factory().await`.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@each $factory; queue;
            templates_round_trip_with_statuses_and_machine,
            template_statuses_can_be_added_but_not_duplicated,
            invalid_templates_are_refused_and_store_nothing,
            queues_are_created_updated_and_deactivated,
            queue_lists_paginate_in_both_orders,
            sessions_are_numbered_per_queue_and_clone_template_statuses,
            inactive_queues_refuse_new_sessions,
            lifecycle_moves_follow_the_table_and_emit_events,
            deleted_sessions_are_hidden_from_every_read,
            session_status_relabels_carry_into_the_machine,
            another_tenants_objects_are_not_found,
            foreign_cursors_and_sort_keys_are_refused,
        );
        $crate::conformance_suite!(@each $factory; items;
            item_numbers_restart_in_every_session,
            items_are_added_only_to_active_sessions,
            an_items_session_never_changes,
            metadata_is_checked_against_the_template_schema,
            status_moves_follow_the_machine_and_record_history,
            item_lists_filter_by_status_and_paginate,
            events_are_scoped_ordered_and_carry_api_shapes,
            fifty_concurrent_creators_get_unique_gap_free_numbers,
            concurrent_sessions_get_unique_gap_free_numbers,
            numbering_follows_a_model_under_random_operations,
        );
        $crate::conformance_suite!(@each $factory; access;
            tenants_round_trip_by_id_and_slug_and_take_patches,
            unknown_tenants_are_not_found,
            a_taken_tenant_slug_is_a_conflict,
            members_are_created_and_read_only_in_their_tenants,
            taken_usernames_and_emails_are_conflicts,
            existing_accounts_join_other_tenants_once,
            member_lists_paginate_in_both_orders_by_name_and_join_time,
            role_and_active_flag_belong_to_the_membership,
            only_the_home_tenant_changes_email_name_and_password,
            changes_that_end_sessions_revoke_logins_in_that_tenant_only,
            administrative_changes_are_audited_with_actor_and_before_after,
            audit_entries_never_hold_secrets,
            audit_logs_are_tenant_scoped_and_paginate_in_both_orders,
        );
        $crate::conformance_suite!(@each $factory; credentials;
            find_login_returns_the_account_with_its_memberships_by_slug,
            access_tokens_resolve_to_their_user_until_they_expire,
            a_deactivated_membership_resolves_to_nothing,
            refreshing_rotates_the_pair_and_kills_the_old_one,
            replaying_the_previous_refresh_token_revokes_the_session,
            unknown_expired_or_revoked_refresh_tokens_are_invalid,
            of_concurrent_refreshes_with_one_token_exactly_one_rotates,
            revoking_a_login_session_is_idempotent_and_tenant_scoped,
            api_keys_are_stored_read_and_listed_with_revoked_ones,
            api_key_instants_are_kept_to_the_microsecond,
            api_keys_resolve_to_their_principal_until_revoked_or_expired,
            last_use_of_an_api_key_is_stamped_at_most_once_a_minute,
            revoking_an_api_key_is_idempotent_and_keeps_the_first_time,
            stream_tickets_answer_once_with_their_principal,
            expired_stream_tickets_answer_nothing,
            tickets_of_revoked_sessions_keys_or_members_answer_nothing,
            of_concurrent_redeemers_of_one_ticket_exactly_one_gets_it,
        );
    };
    (@each $factory:path; $module:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::conformance::$module::$name($factory().await).await;
            }
        )*
    };
}

/// A tenant with a Waiting → Serving → Done template, a queue `A` and an active session.
pub struct Fixture {
    pub tenant: Uuid,
    pub template: lineup_domain::Template,
    pub queue: lineup_domain::Queue,
    pub session: lineup_domain::Session,
}

/// A template status with a color and no explicit order.
pub(crate) fn status(label: &str, color: &str) -> NewTemplateStatus {
    NewTemplateStatus { label: label.into(), color: Some(color.into()), order: None }
}

/// A transition from one status.
pub(crate) fn transition(name: &str, from: &str, to: &str) -> Transition {
    Transition { name: name.into(), from: TransitionFrom::One(from.into()), to: to.into() }
}

/// The template every fixture uses.
pub fn service_template(schema: Option<serde_json::Value>) -> NewTemplate {
    NewTemplate {
        name: "Service".into(),
        statuses: vec![status("Waiting", "#ffaa00"), status("Serving", "#00aaff"), status("Done", "#00ff00")],
        init: Some("Waiting".into()),
        transitions: vec![
            transition("call", "Waiting", "Serving"),
            transition("finish", "Serving", "Done"),
            Transition {
                name: "requeue".into(),
                from: TransitionFrom::Many(vec!["Serving".into()]),
                to: "Waiting".into(),
            },
        ],
        metadata_schema: schema,
    }
}

/// A fresh tenant.
pub async fn tenant(store: &DynStore) -> Uuid {
    let id = Uuid::new_v4();
    let spec = lineup_domain::TenantSpec::new("Conformance", &format!("t-{}", id.simple()), None).unwrap();
    store.create_tenant(&lineup_domain::Actor::system("conformance"), id, spec).await.unwrap();
    id
}

/// Builds a fixture; `schema` becomes the template's metadata schema.
pub async fn fixture_with_schema(store: &DynStore, schema: Option<serde_json::Value>) -> Fixture {
    let tenant = tenant(store).await;
    let template = store.create_template(tenant, service_template(schema)).await.unwrap();
    let queue = store
        .create_queue(
            tenant,
            NewQueue { name: "Front desk".into(), template_id: template.id, prefix: Some("a".into()) },
        )
        .await
        .unwrap();
    let session = store.create_session(tenant, queue.id, NewSession::default()).await.unwrap();
    Fixture { tenant, template, queue, session }
}

/// Builds a fixture without a metadata schema.
pub async fn fixture(store: &DynStore) -> Fixture {
    fixture_with_schema(store, None).await
}

/// A new item in the session's start status, without metadata.
pub(crate) fn item(name: &str) -> NewItem {
    NewItem { display_name: name.into(), metadata: None, status_id: None }
}

/// A status change by transition name.
pub(crate) fn by_transition(name: &str) -> StatusChangeRequest {
    StatusChangeRequest { transition: Some(name.into()), ..Default::default() }
}

/// Asserts `err` is a domain error that `check` accepts.
pub(crate) fn assert_domain(err: StoreError, check: impl Fn(&DomainError) -> bool) {
    match &err {
        StoreError::Domain(d) if check(d) => {}
        other => panic!("unexpected error {other:?}"),
    }
}

/// Asserts `err` is `NotFound` of `entity`.
pub(crate) fn assert_not_found(err: StoreError, entity: Entity) {
    match err {
        StoreError::NotFound(e) => assert_eq!(e, entity),
        other => panic!("expected {entity} not found, got {other:?}"),
    }
}
