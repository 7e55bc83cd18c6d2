//! Event handlers: how each event moves calls and agents, and the dispatcher that offers waiting
//! calls to free agents. Every handler first checks that the event still matches the state it
//! was scheduled for (a ring attempt number, an agent's status epoch) and ignores it otherwise.

use rand::Rng;

use super::agents::{next_time_of_day, StatusEntry};
use super::arrivals::caller_number;
use super::calls::{cdr_id, history_id, Call, CallState, CallType, Direction, DnKind, Party, Segment};
use super::dist::{stream_rng, Stream};
use super::events::{Event, SimMs};
use super::routing::{agents_to_ring, Candidate};
use super::{AgentStatus, CallOutcome, CallRecord, CallTruth, RingStrategy, SegmentAction, Simulation};

impl Simulation {
    /// Runs one event at its time.
    pub(super) fn run_event(&mut self, at: SimMs, event: Event) {
        self.now = at;
        match event {
            Event::Arrival { queue } => self.on_arrival(queue),
            Event::Abandon { call } => self.on_abandon(call),
            Event::MaxWait { call } => self.on_max_wait(call),
            Event::Answer { call, attempt, agent } => self.on_answer(call, attempt, agent),
            Event::RingTimeout { call, attempt } => self.on_ring_timeout(call, attempt),
            Event::Hangup { call } => self.on_hangup(call),
            Event::VoicemailEnd { call } => self.on_voicemail_end(call),
            Event::WrapUpEnd { agent, epoch } => self.on_wrap_up_end(agent, epoch),
            Event::BreakEnd { agent, epoch } => self.on_break_end(agent, epoch),
            Event::ShiftStart { agent } => self.on_shift_start(agent),
            Event::ShiftEnd { agent } => self.on_shift_end(agent),
        }
    }

    /// Draws queue `q`'s next arrival and puts it on the agenda.
    pub(super) fn schedule_next_arrival(&mut self, q: usize) {
        let queue = &mut self.queues[q];
        if let Some(t) = queue.profile.next_arrival(queue.arrival_clock, &mut queue.arrival_rng) {
            queue.arrival_clock = t;
            let at = (t.ceil() as SimMs).max(self.now);
            self.agenda.schedule(at, Event::Arrival { queue: q });
        }
    }

    fn on_arrival(&mut self, q: usize) {
        let id = self.next_call_id;
        self.next_call_id += 1;
        let qc = &self.config.queues[q];
        let mut rng = stream_rng(self.seed, Stream::Call, id as u64);
        let number = caller_number(&self.config.callers, &mut rng);
        let patience_ms = qc.patience.sample_ms(&mut rng);
        self.agenda.schedule(self.now + patience_ms, Event::Abandon { call: id });
        if let Some(overflow) = &qc.overflow {
            self.agenda.schedule(self.now + i64::from(overflow.after_secs) * 1000, Event::MaxWait { call: id });
        }
        let call = Call {
            id,
            queue: q,
            caller_number: number,
            arrived: self.now,
            patience_ms,
            state: CallState::Waiting,
            status_since: self.now,
            attempt: 0,
            tried: Vec::new(),
            left_queue: None,
            outcome: None,
            answered: None,
            segments: Vec::new(),
            rng,
        };
        self.active.insert(id, call);
        self.queues[q].waiting.push(id);
        self.schedule_next_arrival(q);
        self.dispatch();
    }

    /// Offers waiting calls, oldest first across all queues, to free agents. A queue with `n`
    /// free members can start at most `n` rings, so only its `n` oldest waiting calls are
    /// considered: the work is bounded by the free agents, not by the queue lengths.
    pub(super) fn dispatch(&mut self) {
        if !self.any_agent_available() {
            return;
        }
        let mut waiting: Vec<(SimMs, i32)> = Vec::new();
        for queue in &self.queues {
            let free = queue.members.iter().filter(|a| self.agents[**a].status == AgentStatus::Available).count();
            let calls = queue.waiting.iter().filter_map(|id| self.active.get(id));
            waiting.extend(calls.filter(|c| c.state == CallState::Waiting).take(free).map(|c| (c.arrived, c.id)));
        }
        waiting.sort_unstable();
        for (_, id) in waiting {
            let (agents, new_round) = self.choose_agents(id);
            if !agents.is_empty() {
                self.start_ringing(id, agents, new_round);
                if !self.any_agent_available() {
                    return;
                }
            }
        }
    }

    fn any_agent_available(&self) -> bool {
        self.agents.iter().any(|a| a.status == AgentStatus::Available)
    }

    /// The agents to ring for a waiting call, and whether a new round begins (every free member
    /// was already tried, so the tried list is reset).
    fn choose_agents(&self, id: i32) -> (Vec<usize>, bool) {
        let Some(call) = self.active.get(&id) else { return (Vec::new(), false) };
        let q = call.queue;
        let queue = &self.queues[q];
        let strategy = self.config.queues[q].strategy;
        let candidates = |skip_tried: bool| -> Vec<Candidate> {
            queue
                .members
                .iter()
                .enumerate()
                .filter(|(_, a)| self.agents[**a].status == AgentStatus::Available)
                .filter(|(_, a)| !(skip_tried && call.tried.contains(a)))
                .map(|(member, &agent)| Candidate {
                    agent,
                    member,
                    idle_since: self.agents[agent].idle_since,
                    answered: self.agents[agent].answered_in(q),
                })
                .collect()
        };
        let skip_tried = strategy != RingStrategy::RingAll;
        let mut cands = candidates(skip_tried);
        let mut new_round = false;
        if cands.is_empty() && skip_tried && !call.tried.is_empty() {
            cands = candidates(false);
            new_round = !cands.is_empty();
        }
        (agents_to_ring(strategy, &cands, queue.last_rung, queue.members.len()), new_round)
    }

    fn start_ringing(&mut self, id: i32, agents: Vec<usize>, new_round: bool) {
        let now = self.now;
        let Some(call) = self.active.get_mut(&id) else { return };
        if new_round {
            call.tried.clear();
        }
        call.attempt += 1;
        call.state = CallState::Ringing { agents: agents.clone(), since: now };
        call.status_since = now;
        let (q, attempt) = (call.queue, call.attempt);
        let queue = &mut self.queues[q];
        if let Some(last) = agents.last() {
            queue.last_rung = queue.members.iter().position(|a| a == last);
        }
        let timeout = i64::from(self.config.queues[q].ring_timeout_secs) * 1000;
        let mut winner: Option<(SimMs, usize)> = None;
        for &a in &agents {
            self.set_status(a, AgentStatus::Ringing, Some(id));
            let answer = &self.config.agents[a].answer;
            let rng = &mut self.agents[a].rng;
            if rng.random_bool(answer.miss_probability) {
                continue;
            }
            let delay = answer.delay.sample_ms(rng);
            if delay < timeout && winner.is_none_or(|(best, _)| delay < best) {
                winner = Some((delay, a));
            }
        }
        match winner {
            Some((delay, agent)) => self.agenda.schedule(now + delay, Event::Answer { call: id, attempt, agent }),
            None => self.agenda.schedule(now + timeout, Event::RingTimeout { call: id, attempt }),
        }
    }

    fn on_answer(&mut self, id: i32, attempt: u32, agent: usize) {
        let now = self.now;
        let Some(call) = self.active.get_mut(&id) else { return };
        let CallState::Ringing { agents, since } = &call.state else { return };
        if call.attempt != attempt || !agents.contains(&agent) {
            return;
        }
        let (ringing, since) = (agents.clone(), *since);
        let q = call.queue;
        call.state = CallState::Talking { agent, ring_started: since, answered_at: now };
        call.status_since = now;
        call.left_queue = Some(now);
        call.outcome = Some(CallOutcome::Answered);
        call.answered = Some((now, agent));
        let talk_ms = self.config.queues[q].talk.sample_ms(&mut call.rng);
        let arrived = call.arrived;
        self.queues[q].waiting.retain(|c| *c != id);
        for other in ringing.into_iter().filter(|a| *a != agent) {
            self.make_free(other, false);
        }
        self.set_status(agent, AgentStatus::Talking, Some(id));
        self.agents[agent].count_answer(q);
        let queue = self.queue_party(q);
        self.record_segment(id, arrived, queue, true, now - arrived, 0, SegmentAction::Answered);
        self.agenda.schedule(now + talk_ms, Event::Hangup { call: id });
        self.dispatch();
    }

    fn on_ring_timeout(&mut self, id: i32, attempt: u32) {
        let now = self.now;
        let Some(call) = self.active.get_mut(&id) else { return };
        let CallState::Ringing { agents, since } = &call.state else { return };
        if call.attempt != attempt {
            return;
        }
        let (ringing, since) = (agents.clone(), *since);
        call.state = CallState::Waiting;
        call.status_since = now;
        call.tried.extend(&ringing);
        for a in ringing {
            let party = self.agent_party(a);
            self.record_segment(id, since, party, false, now - since, 0, SegmentAction::NoAnswer);
            self.make_free(a, false);
        }
        self.dispatch();
    }

    fn on_abandon(&mut self, id: i32) {
        if !self.active.get(&id).is_some_and(Call::is_queued) {
            return;
        }
        self.leave_queue_unanswered(id, SegmentAction::Abandoned, CallOutcome::Abandoned);
        self.finish(id);
        self.dispatch();
    }

    fn on_max_wait(&mut self, id: i32) {
        if !self.active.get(&id).is_some_and(Call::is_queued) {
            return;
        }
        self.leave_queue_unanswered(id, SegmentAction::Overflowed, CallOutcome::Overflowed);
        let now = self.now;
        let Some(call) = self.active.get_mut(&id) else { return };
        let message_ms =
            self.config.queues[call.queue].overflow.as_ref().map_or(0, |o| o.message.sample_ms(&mut call.rng));
        call.state = CallState::VoiceMail { since: now };
        call.status_since = now;
        self.agenda.schedule(now + message_ms, Event::VoicemailEnd { call: id });
        self.dispatch();
    }

    /// Takes a queued call out of its queue without an answer: ringing agents are released
    /// (each leaves a segment ended by `action`), the queue segment ends, the outcome is set.
    pub(super) fn leave_queue_unanswered(&mut self, id: i32, action: SegmentAction, outcome: CallOutcome) {
        let now = self.now;
        let Some(call) = self.active.get_mut(&id) else { return };
        let ringing = match std::mem::replace(&mut call.state, CallState::Waiting) {
            CallState::Ringing { agents, since } => Some((agents, since)),
            _ => None,
        };
        call.left_queue = Some(now);
        call.outcome = Some(outcome);
        let (q, arrived) = (call.queue, call.arrived);
        if let Some((agents, since)) = ringing {
            for a in agents {
                let party = self.agent_party(a);
                self.record_segment(id, since, party, false, now - since, 0, action);
                self.make_free(a, false);
            }
        }
        let queue = self.queue_party(q);
        self.record_segment(id, arrived, queue, false, now - arrived, 0, action);
        self.queues[q].waiting.retain(|c| *c != id);
    }

    /// Ends a conversation now: the agent segment is written and the agent goes to wrap-up.
    pub(super) fn on_hangup(&mut self, id: i32) {
        let Some(call) = self.active.get(&id) else { return };
        let CallState::Talking { agent, ring_started, answered_at } = call.state else { return };
        let q = call.queue;
        let party = self.agent_party(agent);
        let now = self.now;
        self.record_segment(
            id,
            ring_started,
            party,
            true,
            answered_at - ring_started,
            now - answered_at,
            SegmentAction::Answered,
        );
        self.set_status(agent, AgentStatus::WrapUp, None);
        let wrap_ms = self.config.queues[q].wrap_up.sample_ms(&mut self.agents[agent].rng);
        let epoch = self.agents[agent].epoch;
        self.agenda.schedule(now + wrap_ms, Event::WrapUpEnd { agent, epoch });
        self.finish(id);
    }

    /// Ends a voicemail message now.
    pub(super) fn on_voicemail_end(&mut self, id: i32) {
        let Some(call) = self.active.get(&id) else { return };
        let CallState::VoiceMail { since } = call.state else { return };
        let party = self.voicemail_party(call.queue);
        let now = self.now;
        self.record_segment(id, since, party, true, 0, now - since, SegmentAction::VoiceMail);
        self.finish(id);
    }

    fn on_wrap_up_end(&mut self, a: usize, epoch: u64) {
        let agent = &mut self.agents[a];
        if agent.epoch != epoch || agent.status != AgentStatus::WrapUp {
            return;
        }
        let breaks = &self.config.agents[a].breaks;
        if agent.in_shift && agent.rng.random_bool(breaks.probability_after_call) {
            let break_ms = breaks.duration.sample_ms(&mut agent.rng);
            self.set_status(a, AgentStatus::Paused, None);
            let epoch = self.agents[a].epoch;
            self.agenda.schedule(self.now + break_ms, Event::BreakEnd { agent: a, epoch });
        } else {
            self.make_free(a, true);
            self.dispatch();
        }
    }

    fn on_break_end(&mut self, a: usize, epoch: u64) {
        let agent = &self.agents[a];
        if agent.epoch != epoch || agent.status != AgentStatus::Paused {
            return;
        }
        self.make_free(a, true);
        self.dispatch();
    }

    fn on_shift_start(&mut self, a: usize) {
        self.agents[a].in_shift = true;
        if self.agents[a].status == AgentStatus::LoggedOut {
            self.make_free(a, true);
        }
        if let Some(shift) = self.agents[a].shift {
            let at = next_time_of_day(self.origin_tod_ms, self.now, shift.logout_ms);
            self.agenda.schedule(at, Event::ShiftEnd { agent: a });
        }
        self.dispatch();
    }

    fn on_shift_end(&mut self, a: usize) {
        self.agents[a].in_shift = false;
        // A busy agent logs out once free (see `make_free`); a break is cut short.
        if matches!(self.agents[a].status, AgentStatus::Available | AgentStatus::Paused) {
            self.set_status(a, AgentStatus::LoggedOut, None);
        }
        if let Some(shift) = self.agents[a].shift {
            let at = next_time_of_day(self.origin_tod_ms, self.now, shift.login_ms);
            self.agenda.schedule(at, Event::ShiftStart { agent: a });
        }
    }

    /// The agent is free: available if in shift (`reset_idle` restarts its idle time, which a
    /// missed or cancelled ring does not), logged out otherwise.
    fn make_free(&mut self, a: usize, reset_idle: bool) {
        if !self.agents[a].in_shift {
            self.set_status(a, AgentStatus::LoggedOut, None);
            return;
        }
        if reset_idle {
            self.agents[a].idle_since = self.now;
        }
        self.set_status(a, AgentStatus::Available, None);
    }

    fn set_status(&mut self, a: usize, status: AgentStatus, call: Option<i32>) {
        let agent = &mut self.agents[a];
        agent.status = status;
        agent.status_since = self.now;
        agent.epoch += 1;
        agent.current_call = call;
        self.log_status(a);
    }

    /// Appends agent `a`'s current status to the status log.
    pub(super) fn log_status(&mut self, a: usize) {
        let agent = &self.agents[a];
        self.status_log.push(StatusEntry { at: self.now, agent: a, status: agent.status, call: agent.current_call });
    }

    /// Appends a segment from `started` to now, with the call's caller as source.
    #[allow(clippy::too_many_arguments)]
    fn record_segment(
        &mut self,
        id: i32,
        started: SimMs,
        destination: Party,
        answered: bool,
        ringing_ms: i64,
        talking_ms: i64,
        action: SegmentAction,
    ) {
        let Some(call) = self.active.get(&id) else { return };
        let segment_id = self.next_segment_id;
        self.next_segment_id += 1;
        let segment = Segment {
            segment_id,
            cdr_id: cdr_id(segment_id),
            started_at: self.at(started),
            ended_at: self.at(self.now),
            source: self.caller_party(&call.caller_number),
            destination,
            answered,
            ringing_ms,
            talking_ms,
            action,
            direction: Direction::Inbound,
            call_type: CallType::InboundQueue,
        };
        if let Some(call) = self.active.get_mut(&id) {
            call.segments.push(segment);
        }
    }

    /// Moves a call that has ended from the live set to the finished records and ground truth.
    pub(super) fn finish(&mut self, id: i32) {
        let Some(call) = self.active.remove(&id) else { return };
        let qc = &self.config.queues[call.queue];
        let outcome = call.outcome.unwrap_or(CallOutcome::Abandoned);
        let left_queue = call.left_queue.unwrap_or(self.now);
        let wait_ms = left_queue - call.arrived;
        let agent_dn = call.answered.map(|(_, a)| self.config.agents[a].dn.clone());
        let talk_ms = call.answered.map_or(0, |(at, _)| self.now - at);
        let answered_within_sla = outcome == CallOutcome::Answered && wait_ms <= i64::from(qc.sla_secs) * 1000;
        self.truths.push(CallTruth {
            call_id: call.id,
            history_id: history_id(call.id),
            queue_dn: qc.dn.clone(),
            caller_number: call.caller_number.clone(),
            arrived_at: self.at(call.arrived),
            left_queue_at: self.at(left_queue),
            answered_at: call.answered.map(|(at, _)| self.at(at)),
            abandoned_at: (outcome == CallOutcome::Abandoned).then(|| self.at(left_queue)),
            ended_at: self.at(self.now),
            outcome,
            wait_ms,
            talk_ms,
            agent_dn: agent_dn.clone(),
            ring_attempts: call.attempt,
            patience_ms: call.patience_ms,
            sla_secs: qc.sla_secs,
            answered_within_sla,
        });
        self.finished.push(CallRecord {
            call_id: call.id,
            history_id: history_id(call.id),
            queue_dn: qc.dn.clone(),
            caller_number: call.caller_number,
            arrived_at: self.at(call.arrived),
            ended_at: self.at(self.now),
            outcome,
            agent_dn,
            segments: call.segments,
        });
    }

    fn caller_party(&self, number: &str) -> Party {
        Party {
            dn: self.config.callers.trunk_dn.clone(),
            kind: DnKind::ExternalLine,
            name: number.to_string(),
            number: number.to_string(),
        }
    }

    fn queue_party(&self, q: usize) -> Party {
        let qc = &self.config.queues[q];
        Party { dn: qc.dn.clone(), kind: DnKind::Queue, name: qc.name.clone(), number: qc.dn.clone() }
    }

    fn agent_party(&self, a: usize) -> Party {
        let ac = &self.config.agents[a];
        Party { dn: ac.dn.clone(), kind: DnKind::Extension, name: ac.name.clone(), number: ac.dn.clone() }
    }

    fn voicemail_party(&self, q: usize) -> Party {
        match &self.config.queues[q].overflow {
            Some(o) => Party {
                dn: o.destination_dn.clone(),
                kind: DnKind::VoiceMail,
                name: o.destination_name.clone(),
                number: o.destination_dn.clone(),
            },
            None => self.queue_party(q),
        }
    }
}
