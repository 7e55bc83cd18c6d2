//! The storage conformance suite: every storage behaviour, tested once, run unchanged against
//! every backend. A backend crate runs it with
//! `lineup_store::conformance_suite!(path::to::factory);` in a test file, where the factory is an
//! `async fn() -> DynStore` returning a migrated store. Every test makes its own tenant, so tests
//! may share one database and run in parallel.
//!
//! The tests live by subject: [`queue`] (templates, queues, sessions, their statuses and tenant
//! isolation), [`items`] (items, numbering, events), [`access`] (tenants, members, the audit log),
//! [`credentials`] (logins, API keys, stream tickets), [`inbox`] (ingestion messages, claims,
//! retries, dead letters), [`pbx`] (PBX connections and their queue mappings), [`calls`]
//! (calls becoming queue items, worker checkpoints and leases) and [`webhooks`] (webhooks, the
//! outbox read across tenants and its cursors, deliveries, their retries and log). This module
//! holds the macro that lists them all and the fixtures they share.

pub mod access;
pub mod calls;
pub mod credentials;
pub mod inbox;
pub mod items;
pub mod pbx;
pub mod queue;
pub mod schedules;
pub mod tallies;
pub mod webhooks;

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
        $crate::conformance_suite!(@each $factory; tallies;
            tally_buckets_are_replaced_whole_and_listed_by_queue_agent_and_period,
            changed_calls_are_read_in_change_order_after_a_cursor,
            the_aggregation_cursor_is_saved_and_never_goes_back,
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
        $crate::conformance_suite!(@each $factory; inbox;
            a_repeated_dedup_key_is_stored_once_per_tenant_and_connection,
            enqueue_many_reports_each_record_in_order,
            enqueue_many_stores_all_or_nothing,
            claims_hand_out_one_message_per_call_oldest_first,
            a_claim_for_one_connection_leaves_the_others_alone,
            a_failing_message_holds_up_its_call_but_not_the_others,
            an_expired_lease_makes_a_message_claimable_again,
            failures_back_off_exponentially_then_dead_letter_with_the_error,
            replayed_dead_letters_run_again_at_the_end_of_their_line,
            discarded_dead_letters_are_never_handed_out_again,
            dead_letter_administration_is_tenant_scoped,
            dead_letter_lists_paginate_in_both_orders,
            inbox_depth_counts_pending_in_flight_and_dead,
            concurrent_claimers_process_every_message_exactly_once_in_call_order,
        );
        $crate::conformance_suite!(@each $factory; pbx;
            pbx_connections_round_trip_without_their_secret,
            pbx_connection_changes_apply_and_a_new_secret_replaces_the_old,
            queue_mappings_replace_the_whole_set_and_name_only_the_tenants_queues,
            deleted_pbx_connections_are_hidden_and_lose_their_secret_and_mappings,
            another_tenants_pbx_connections_are_not_found,
            pbx_changes_are_audited_without_the_secret,
            pbx_connection_lists_paginate_in_both_orders,
            enabled_connections_of_every_tenant_are_listed_with_their_sealed_secrets,
            agents_sync_keep_since_until_presence_changes_and_map_their_queues,
            agents_of_another_tenant_or_a_deleted_connection_are_refused_and_gone,
        );
        $crate::conformance_suite!(@each $factory; calls;
            a_call_becomes_one_numbered_item_that_follows_its_phases,
            applying_known_observations_again_changes_nothing,
            observations_in_any_order_store_the_same_record,
            a_queue_without_an_active_session_gets_one_opened_for_its_calls,
            items_move_in_paused_sessions_and_stay_in_completed_ones,
            an_unmapped_dn_stores_the_call_without_an_item,
            an_inactive_queue_stores_the_call_with_a_note_until_it_is_reactivated,
            metadata_the_schema_refuses_leaves_the_call_without_an_item_or_session,
            a_queue_without_the_call_statuses_is_a_conflict,
            history_corrects_a_terminal_status_directly,
            the_inbox_message_is_settled_with_the_call_and_a_lost_lease_rolls_it_back,
            a_batch_keeps_every_message_that_applies_and_rolls_back_only_the_others,
            call_queues_name_the_queue_of_stored_calls_only,
            another_tenants_calls_are_not_found_and_bad_input_is_refused,
            call_lists_filter_and_paginate_in_both_orders,
            checkpoints_round_trip_per_connection_and_name,
            leases_are_renewed_refused_taken_over_after_expiry_and_released,
            concurrent_applications_merge_every_observation_of_every_call,
        );
        $crate::conformance_suite!(@each $factory; schedules;
            schedules_are_put_read_replaced_and_deleted,
            invalid_schedules_are_refused,
            another_tenants_queue_schedules_are_not_found,
            due_schedules_of_every_tenant_are_listed,
            rotation_opens_the_next_session_and_completes_drained_ones,
            rotating_twice_for_one_instant_changes_nothing,
            rotation_opens_the_first_session_of_an_empty_queue,
        );
        $crate::conformance_suite!(@each $factory; webhooks;
            webhooks_round_trip_without_their_secret,
            webhook_changes_apply_and_a_new_secret_replaces_the_old,
            events_become_one_delivery_per_webhook_that_takes_them,
            the_outbox_reads_across_tenants_in_order_and_cursors_never_go_back,
            claims_hand_out_due_deliveries_once_per_lease,
            failed_attempts_back_off_then_fail_with_the_last_status,
            redelivery_puts_any_delivery_back_in_line,
            deleted_webhooks_are_hidden_and_fail_their_pending_deliveries,
            another_tenants_webhooks_and_deliveries_are_not_found,
            webhook_changes_are_audited_without_the_secret,
            webhook_lists_paginate_in_both_orders,
            delivery_logs_paginate_in_both_orders,
            concurrent_claimers_never_share_a_delivery,
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
