//! Console labeling: the questions a person answers to label a labeling
//! file, one pair of records at a time.
//!
//! Labels are entities within a set. The first unlabeled record of a set
//! with no labeled record starts an entity on its own; every other
//! unlabeled record is shown beside one record of each entity already in
//! its set, in turn, until the person says "same" (it joins that entity),
//! "unsure" (it is marked [`UNSURE`] and left out of training) or has said
//! "different" to all (it starts an entity of its own). "Back" undoes the
//! last answer.
//!
//! All state lives in the labels themselves, so a file saved half-way
//! resumes where it stopped: rows with an empty label are the ones left.

/// The label of a record the person was unsure of; training skips it.
pub const UNSURE: &str = "?";

/// A person's answer to a [`Question`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The two records are the same entity.
    Same,
    /// They are different entities.
    Different,
    /// The person cannot tell.
    Unsure,
}

/// One question: is `record` the same entity as `other` (a record of
/// entity `entity`)? Both are row indexes of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The set's id.
    pub set: String,
    /// The record to label.
    pub record: usize,
    /// A record of the entity it is compared with.
    pub other: usize,
    /// That entity's label.
    pub entity: String,
}

#[derive(Clone, Debug)]
struct State {
    labels: Vec<String>,
    /// Entities the current record was said to differ from.
    rejected: Vec<String>,
}

/// A labeling session over the rows of one labeling file.
#[derive(Clone, Debug)]
pub struct Review {
    sets: Vec<String>,
    /// Row indexes of each set, in file order, sets in order of first row.
    members: Vec<Vec<usize>>,
    state: State,
    history: Vec<State>,
}

impl Review {
    /// A session over rows with these set ids and labels (empty: not yet
    /// labeled).
    pub fn new(sets: Vec<String>, labels: Vec<String>) -> Review {
        let mut names: Vec<&str> = Vec::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (row, set) in sets.iter().enumerate() {
            match names.iter().position(|n| *n == set) {
                Some(i) => members[i].push(row),
                None => {
                    names.push(set);
                    members.push(vec![row]);
                }
            }
        }
        let labels = labels.into_iter().map(|l| l.trim().to_string()).collect();
        Review { sets, members, state: State { labels, rejected: Vec::new() }, history: Vec::new() }
    }

    /// The labels so far, one per row.
    pub fn labels(&self) -> &[String] {
        &self.state.labels
    }

    /// Rows labeled (unsure included) and rows in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.state.labels.iter().filter(|l| !l.is_empty()).count(), self.state.labels.len())
    }

    /// The next question, or `None` when every row is labeled. Records
    /// that need no question (the first of a set, or one that differs from
    /// every entity) are labeled on the way.
    pub fn next_question(&mut self) -> Option<Question> {
        loop {
            let members = self.members.iter().find(|m| m.iter().any(|&r| self.state.labels[r].is_empty()))?;
            let record = *members.iter().find(|&&r| self.state.labels[r].is_empty())?;
            let mut entities: Vec<(&str, usize)> = Vec::new();
            for &r in members {
                let l = self.state.labels[r].as_str();
                if !l.is_empty() && l != UNSURE && !entities.iter().any(|(e, _)| *e == l) {
                    entities.push((l, r));
                }
            }
            match entities.iter().find(|(e, _)| !self.state.rejected.iter().any(|x| x == e)) {
                Some(&(entity, other)) => {
                    return Some(Question {
                        set: self.sets[record].clone(),
                        record,
                        other,
                        entity: entity.to_string(),
                    })
                }
                None => {
                    let fresh = (1..)
                        .map(|i: usize| i.to_string())
                        .find(|c| !entities.iter().any(|(e, _)| e == c))
                        .unwrap_or_default();
                    self.state.labels[record] = fresh;
                    self.state.rejected.clear();
                }
            }
        }
    }

    /// Answer `question` (the one [`Review::next_question`] gave).
    pub fn answer(&mut self, question: &Question, answer: Answer) {
        self.history.push(self.state.clone());
        match answer {
            Answer::Same => {
                self.state.labels[question.record] = question.entity.clone();
                self.state.rejected.clear();
            }
            Answer::Different => self.state.rejected.push(question.entity.clone()),
            Answer::Unsure => {
                self.state.labels[question.record] = UNSURE.to_string();
                self.state.rejected.clear();
            }
        }
    }

    /// Undo the last answer of this session; false when there is none.
    pub fn back(&mut self) -> bool {
        match self.history.pop() {
            Some(state) => {
                self.state = state;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(sets: &[&str], labels: &[&str]) -> Review {
        Review::new(
            sets.iter().map(|s| s.to_string()).collect(),
            labels.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn answers_become_entities_within_each_set() {
        let mut r = review(&["a", "a", "a", "b", "b"], &["", "", "", "", ""]);
        // Row 0 starts entity 1; row 1 is asked against it.
        let q = r.next_question().unwrap();
        assert_eq!((q.record, q.other, q.entity.as_str()), (1, 0, "1"));
        r.answer(&q, Answer::Different);
        // Row 1 differs from all: entity 2. Row 2 is asked against 1, then 2.
        let q = r.next_question().unwrap();
        assert_eq!((q.record, q.entity.as_str()), (2, "1"));
        r.answer(&q, Answer::Different);
        let q = r.next_question().unwrap();
        assert_eq!((q.record, q.entity.as_str()), (2, "2"));
        r.answer(&q, Answer::Same);
        // Set b: row 3 starts entity 1, row 4 is unsure.
        let q = r.next_question().unwrap();
        assert_eq!((q.set.as_str(), q.record, q.other), ("b", 4, 3));
        r.answer(&q, Answer::Unsure);
        assert!(r.next_question().is_none());
        assert_eq!(r.labels(), ["1", "2", "2", "1", UNSURE]);
        assert_eq!(r.progress(), (5, 5));
    }

    #[test]
    fn back_undoes_the_last_answer() {
        let mut r = review(&["a", "a", "a"], &["", "", ""]);
        let q1 = r.next_question().unwrap();
        r.answer(&q1, Answer::Same);
        let q2 = r.next_question().unwrap();
        assert_eq!(q2.record, 2);
        assert!(r.back());
        assert_eq!(r.next_question().unwrap(), q1);
        assert_eq!(r.labels()[1], "");
        assert!(!r.back());
    }

    #[test]
    fn a_saved_session_resumes_at_the_first_unlabeled_row() {
        let mut r = review(&["a", "a", "a", "a"], &["x", "y", "", ""]);
        let q = r.next_question().unwrap();
        assert_eq!((q.record, q.entity.as_str()), (2, "x"));
        r.answer(&q, Answer::Different);
        let q = r.next_question().unwrap();
        r.answer(&q, Answer::Different);
        // A new entity's label does not clash with the file's.
        let q = r.next_question().unwrap();
        assert_eq!(r.labels()[2], "1");
        assert_eq!(q.record, 3);
    }
}
