//! The virtual clock's agenda: a min-heap of timed events. Events at the same millisecond run in
//! the order they were scheduled (a sequence number breaks ties), which makes a run depend only
//! on the seed, the configuration and the external calls, never on heap internals.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Milliseconds since the simulation's start instant.
pub(crate) type SimMs = i64;

/// Something that happens at an instant. Call events name the call by id, agent events by
/// position; handlers ignore an event that no longer matches the state it was scheduled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The next caller of a queue arrives.
    Arrival { queue: usize },
    /// The caller's patience runs out.
    Abandon { call: i32 },
    /// The queue's maximum wait is reached.
    MaxWait { call: i32 },
    /// An agent picks up ring attempt `attempt` of a call.
    Answer { call: i32, attempt: u32, agent: usize },
    /// Ring attempt `attempt` of a call reached the ring timeout unanswered.
    RingTimeout { call: i32, attempt: u32 },
    /// The conversation ends.
    Hangup { call: i32 },
    /// The caller finishes leaving a voicemail.
    VoicemailEnd { call: i32 },
    /// The agent's after-call work ends (valid only in status epoch `epoch`).
    WrapUpEnd { agent: usize, epoch: u64 },
    /// The agent's break ends (valid only in status epoch `epoch`).
    BreakEnd { agent: usize, epoch: u64 },
    /// The agent's shift begins.
    ShiftStart { agent: usize },
    /// The agent's shift ends.
    ShiftEnd { agent: usize },
}

#[derive(Debug)]
struct Scheduled {
    at: SimMs,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed, so the standard max-heap pops the earliest (then first-scheduled) event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pending events ordered by (time, scheduling order).
#[derive(Debug, Default)]
pub(crate) struct Agenda {
    heap: BinaryHeap<Scheduled>,
    next_seq: u64,
}

impl Agenda {
    /// Adds an event at `at`.
    pub fn schedule(&mut self, at: SimMs, event: Event) {
        self.heap.push(Scheduled { at, seq: self.next_seq, event });
        self.next_seq += 1;
    }

    /// Removes and returns the earliest event if it is due at or before `until`.
    pub fn pop_due(&mut self, until: SimMs) -> Option<(SimMs, Event)> {
        if self.heap.peek()?.at > until {
            return None;
        }
        self.heap.pop().map(|s| (s.at, s.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_by_time_then_scheduling_order() {
        let mut agenda = Agenda::default();
        agenda.schedule(20, Event::Hangup { call: 1 });
        agenda.schedule(10, Event::Hangup { call: 2 });
        agenda.schedule(20, Event::Hangup { call: 3 });
        agenda.schedule(10, Event::Hangup { call: 4 });
        agenda.schedule(30, Event::Hangup { call: 5 });
        let mut popped = Vec::new();
        while let Some((at, Event::Hangup { call })) = agenda.pop_due(25) {
            popped.push((at, call));
        }
        assert_eq!(popped, vec![(10, 2), (10, 4), (20, 1), (20, 3)]);
        assert_eq!(agenda.pop_due(30), Some((30, Event::Hangup { call: 5 })));
        assert_eq!(agenda.pop_due(i64::MAX), None);
    }
}
