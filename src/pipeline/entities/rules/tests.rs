//! Tests of the rule layer: the seed article and named regression tables.

use super::*;
use crate::pipeline::{Entity, Label, Span};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/parity/seed.jsonl"
);

/// A document of `text` with `entities` (surface, label) found left to right.
fn doc(text: &str, entities: &[(&str, Label)]) -> Document {
    let mut from = 0;
    let entities = entities
        .iter()
        .map(|(surface, label)| {
            let start = from
                + text[from..]
                    .find(surface)
                    .unwrap_or_else(|| panic!("{surface:?} not in {text:?} after {from}"));
            from = start + surface.len();
            Entity {
                span: Span::new(start, from),
                label: *label,
                model_label: None,
                sentence: None,
                cluster: None,
                title: None,
            }
        })
        .collect();
    Document {
        text: text.to_owned(),
        entities,
        ..Document::default()
    }
}

/// The contract every output keeps: spans slice the text, every entity is in exactly one
/// cluster of its own label, mentions are in text order.
fn check_invariants(doc: &Document) {
    let mut seen = vec![0usize; doc.entities.len()];
    for (c, cluster) in doc.clusters.iter().enumerate() {
        assert!(!cluster.mentions.is_empty(), "empty cluster {c}");
        assert!(
            cluster.mentions.windows(2).all(|w| w[0] < w[1]),
            "mentions out of order in {cluster:?}"
        );
        for &m in &cluster.mentions {
            seen[m] += 1;
            assert_eq!(doc.entities[m].cluster, Some(c));
            assert_eq!(doc.entities[m].label, cluster.label, "{cluster:?}");
        }
        assert!(!cluster.name.is_empty());
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "every entity in one cluster: {seen:?}"
    );
    for e in &doc.entities {
        assert!(!e.span.is_empty());
        assert!(doc.text.get(e.span.start..e.span.end).is_some(), "{e:?}");
        assert_ne!(
            e.model_label,
            Some(e.label),
            "model_label only when changed: {e:?}"
        );
    }
}

/// The index of the `nth` entity whose text is `surface`.
fn find(doc: &Document, surface: &str, nth: usize) -> usize {
    doc.entities
        .iter()
        .enumerate()
        .filter(|(_, e)| doc.slice(e.span) == surface)
        .nth(nth)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("no entity #{nth} {surface:?}"))
}

fn seed() -> Document {
    let line = std::fs::read_to_string(SEED).expect("shared/data/parity/seed.jsonl");
    let mut doc = crate::eval::entrules::parity_document(line.trim_end()).expect("seed record");
    apply(&mut doc);
    check_invariants(&doc);
    doc
}

#[test]
fn seed_hatami_is_titled_and_clustered_with_his_surname() {
    let doc = seed();
    let full = find(&doc, "Amir Hatami", 0);
    let short = find(&doc, "Hatami", 0);
    assert_eq!(doc.entities[full].label, Label::Person);
    assert_eq!(
        doc.entities[full].title.as_deref(),
        Some("Brigadier General")
    );
    assert_eq!(doc.entities[short].title, None);
    assert_eq!(doc.entities[full].cluster, doc.entities[short].cluster);
    let cluster = &doc.clusters[doc.entities[full].cluster.expect("cluster")];
    assert_eq!(cluster.name, "Amir Hatami");
    assert_eq!(cluster.mentions, vec![full, short]);
}

#[test]
fn seed_repeated_names_share_one_cluster_each() {
    let doc = seed();
    // Counts of the model's mentions in the seed (parity/seed.jsonl).
    for (surface, label, count) in [
        ("Iran", Label::Gpe, 11),
        ("Iraq", Label::Gpe, 12),
        ("Baghdad", Label::Gpe, 1),
        ("ISIS", Label::Org, 9),
        ("Tehran", Label::Gpe, 2),
    ] {
        let mentions: Vec<usize> = (0..doc.entities.len())
            .filter(|&i| doc.slice(doc.entities[i].span) == surface)
            .collect();
        assert_eq!(mentions.len(), count, "{surface}");
        let c = doc.entities[mentions[0]].cluster.expect("cluster");
        assert_eq!(doc.clusters[c].label, label, "{surface}");
        assert_eq!(doc.clusters[c].name, surface);
        assert_eq!(
            doc.clusters[c].mentions, mentions,
            "{surface}: one cluster, all mentions"
        );
    }
    let iran = doc.entities[find(&doc, "Iran", 0)].cluster;
    let republic = doc.entities[find(&doc, "the Islamic Republic of Iran", 0)].cluster;
    assert_ne!(
        iran, republic,
        "no rule links Iran to the Islamic Republic of Iran"
    );
}

#[test]
fn seed_office_holders_get_their_titles() {
    let doc = seed();
    for (name, title) in [
        (
            "Mohammad Eslami",
            "head of the Atomic Energy Organization of Iran (AEOI)",
        ),
        (
            "Ali Asghar Khaji",
            "Senior Advisor to Iran’s Foreign Minister",
        ),
        ("Joe Biden", "US President"),
        ("Xi Jinping", "Chinese President"),
        (
            "Seyyed Abdolrahim Mousavi",
            "Major General, Commander-in-Chief of the Iranian Army",
        ),
    ] {
        let e = &doc.entities[find(&doc, name, 0)];
        assert_eq!(e.label, Label::Person, "{name}");
        assert_eq!(e.title.as_deref(), Some(title), "{name}");
    }
    assert_eq!(doc.entities[find(&doc, "Donald Trump", 0)].title, None);
}

#[test]
fn seed_acronym_joins_its_expansion_when_the_model_found_both() {
    let doc = seed();
    let expansion = find(&doc, "the Atomic Energy Organization of Iran", 0);
    let name = &doc.clusters[doc.entities[expansion].cluster.expect("cluster")].name;
    assert_eq!(name, "Atomic Energy Organization of Iran");
    // spaCy does not tag "AEOI" in the seed; the layer adds no entities, so it has nothing to
    // join. Were it tagged, it would share the expansion's cluster.
    let acronyms: Vec<usize> = (0..doc.entities.len())
        .filter(|&i| doc.slice(doc.entities[i].span) == "AEOI")
        .collect();
    for i in acronyms {
        assert_eq!(doc.entities[i].cluster, doc.entities[expansion].cluster);
    }
    let mut tagged = doc.clone();
    let at = tagged.text.find("AEOI").expect("AEOI in the text");
    tagged.entities.push(Entity {
        span: Span::new(at, at + 4),
        label: Label::Gpe,
        model_label: None,
        sentence: None,
        cluster: None,
        title: None,
    });
    tagged.entities.sort_by_key(|e| e.span.start);
    apply(&mut tagged);
    check_invariants(&tagged);
    let acronym = find(&tagged, "AEOI", 0);
    let expansion = find(&tagged, "the Atomic Energy Organization of Iran", 0);
    assert_eq!(
        tagged.entities[acronym].cluster,
        tagged.entities[expansion].cluster
    );
    assert_eq!(tagged.entities[acronym].label, Label::Org);
    assert_eq!(tagged.entities[acronym].model_label, Some(Label::Gpe));
}

#[test]
fn seed_labels_are_the_models() {
    // On the seed no rule has reason to relabel: every change would be visible here.
    let doc = seed();
    assert!(doc.entities.iter().all(|e| e.model_label.is_none()));
}

/// (case, text, entities, index of the person checked, expected surface, label, title).
type TitleCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, Label)],
    usize,
    &'static str,
    Label,
    Option<&'static str>,
);

const TITLE_CASES: &[TitleCase] = &[
    (
        "rank_before_name",
        "Brigadier General Amir Hatami said.",
        &[("Amir Hatami", Label::Person)],
        0,
        "Amir Hatami",
        Label::Person,
        Some("Brigadier General"),
    ),
    (
        "abbreviated_rank",
        "Brig. Gen. Amir Hatami said.",
        &[("Amir Hatami", Label::Person)],
        0,
        "Amir Hatami",
        Label::Person,
        Some("Brig. Gen."),
    ),
    (
        "abbreviated_lt_col",
        "Yesterday Lt. Col. Jane Doe spoke.",
        &[("Jane Doe", Label::Person)],
        0,
        "Jane Doe",
        Label::Person,
        Some("Lt. Col."),
    ),
    (
        "swallowed_title_is_trimmed",
        "President Joe Biden spoke.",
        &[("President Joe Biden", Label::Person)],
        0,
        "Joe Biden",
        Label::Person,
        Some("President"),
    ),
    (
        "swallowed_title_keeps_outside_qualifier",
        "US President Joe Biden spoke.",
        &[("US", Label::Gpe), ("President Joe Biden", Label::Person)],
        1,
        "Joe Biden",
        Label::Person,
        Some("US President"),
    ),
    (
        "possessive_qualifier_and_portfolio",
        "Iran’s Defence Minister Amir Hatami said.",
        &[("Iran", Label::Gpe), ("Amir Hatami", Label::Person)],
        1,
        "Amir Hatami",
        Label::Person,
        Some("Iran’s Defence Minister"),
    ),
    (
        "lowercase_portfolio_office",
        "Iraq's communications minister Ali Smith said.",
        &[("Iraq", Label::Gpe), ("Ali Smith", Label::Person)],
        1,
        "Ali Smith",
        Label::Person,
        Some("Iraq's communications minister"),
    ),
    (
        "modifier",
        "He met former President Barack Obama.",
        &[("Barack Obama", Label::Person)],
        0,
        "Barack Obama",
        Label::Person,
        Some("former President"),
    ),
    (
        "stacked_titles",
        "Supreme Leader Ayatollah Ali Khamenei said.",
        &[("Ali Khamenei", Label::Person)],
        0,
        "Ali Khamenei",
        Label::Person,
        Some("Supreme Leader Ayatollah"),
    ),
    (
        "appositive_after",
        "Mohammad Eslami, the head of the Atomic Energy Organization of Iran (AEOI), has warned.",
        &[
            ("Mohammad Eslami", Label::Person),
            ("the Atomic Energy Organization of Iran", Label::Org),
        ],
        0,
        "Mohammad Eslami",
        Label::Person,
        Some("head of the Atomic Energy Organization of Iran (AEOI)"),
    ),
    (
        "appositive_before_and_rank",
        "The Commander-in-Chief of the Iranian Army, Major General Seyyed Abdolrahim Mousavi, has vowed.",
        &[
            ("the Iranian Army", Label::Org),
            ("Seyyed Abdolrahim Mousavi", Label::Person),
        ],
        1,
        "Seyyed Abdolrahim Mousavi",
        Label::Person,
        Some("Major General, Commander-in-Chief of the Iranian Army"),
    ),
    (
        "honorific_makes_a_person",
        "Later Mr. Trump said no.",
        &[("Trump", Label::Org)],
        0,
        "Trump",
        Label::Person,
        Some("Mr."),
    ),
    (
        "junk_entity_is_no_qualifier",
        "Photo REUTERS/Jason Reed U.S. President George W. Bush waves.",
        &[
            ("REUTERS/Jason Reed U.S.", Label::Gpe),
            ("George W. Bush", Label::Person),
        ],
        1,
        "George W. Bush",
        Label::Person,
        Some("President"),
    ),
    // Negative cases: no title, span and label as the model gave them.
    (
        "general_motors_org",
        "General Motors said on Monday.",
        &[("General Motors", Label::Org)],
        0,
        "General Motors",
        Label::Org,
        None,
    ),
    (
        "general_motors_mistagged_person_is_not_trimmed",
        "General Motors said on Monday.",
        &[("General Motors", Label::Person)],
        0,
        "General Motors",
        Label::Person,
        None,
    ),
    (
        "general_before_motors_person",
        "Shares of General Motors rose.",
        &[("Motors", Label::Person)],
        0,
        "Motors",
        Label::Person,
        None,
    ),
    (
        "dr_pepper_whole",
        "I drank a Dr. Pepper today.",
        &[("Dr. Pepper", Label::Person)],
        0,
        "Dr. Pepper",
        Label::Person,
        None,
    ),
    (
        "dr_pepper_split",
        "I drank a Dr. Pepper today.",
        &[("Pepper", Label::Person)],
        0,
        "Pepper",
        Label::Person,
        None,
    ),
    (
        "lowercase_general_is_no_rank",
        "They agreed in general Smith said.",
        &[("Smith", Label::Person)],
        0,
        "Smith",
        Label::Person,
        None,
    ),
    (
        "title_word_inside_another_name",
        "Team 2: Coach: Melanie King Brandon Luna.",
        &[("Brandon Luna", Label::Person)],
        0,
        "Brandon Luna",
        Label::Person,
        None,
    ),
    (
        "appositive_clause_is_no_title",
        "John Smith, who said nothing, left.",
        &[("John Smith", Label::Person)],
        0,
        "John Smith",
        Label::Person,
        None,
    ),
    (
        "list_of_names",
        "Smith, Jones and Brown left.",
        &[
            ("Smith", Label::Person),
            ("Jones", Label::Person),
            ("Brown", Label::Person),
        ],
        0,
        "Smith",
        Label::Person,
        None,
    ),
    (
        "no_titles_on_organisations",
        "The President Hotel is in Paris.",
        &[("President Hotel", Label::Org), ("Paris", Label::Gpe)],
        0,
        "President Hotel",
        Label::Org,
        None,
    ),
    (
        "honorific_does_not_make_dr_pepper_a_person",
        "I drank a Dr. Pepper today.",
        &[("Pepper", Label::Org)],
        0,
        "Pepper",
        Label::Org,
        None,
    ),
];

#[test]
fn title_regressions() {
    for &(case, text, entities, at, surface, label, title) in TITLE_CASES {
        let mut d = doc(text, entities);
        apply(&mut d);
        check_invariants(&d);
        let e = &d.entities[at];
        assert_eq!(d.slice(e.span), surface, "{case}");
        assert_eq!(e.label, label, "{case}");
        assert_eq!(e.title.as_deref(), title, "{case}");
        let model = entities[at].1;
        assert_eq!(e.model_label, (model != label).then_some(model), "{case}");
    }
}

/// (case, text, entities, groups of entity indices that share a cluster (groups differ from
/// each other), expected labels after the layer).
type ClusterCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, Label)],
    &'static [&'static [usize]],
    &'static [Label],
);

const CLUSTER_CASES: &[ClusterCase] = &[
    (
        "surname",
        "Amir Hatami spoke. Hatami left.",
        &[("Amir Hatami", Label::Person), ("Hatami", Label::Person)],
        &[&[0, 1]],
        &[Label::Person, Label::Person],
    ),
    (
        "surname_tagged_org_becomes_person",
        "Donald Trump spoke. Trump left.",
        &[("Donald Trump", Label::Person), ("Trump", Label::Org)],
        &[&[0, 1]],
        &[Label::Person, Label::Person],
    ),
    (
        "surname_before_the_full_name_keeps_its_label",
        "Do not link Islam with fascism. Umar Islam, 28, was arrested.",
        &[("Islam", Label::Norp), ("Umar Islam", Label::Person)],
        &[&[0], &[1]],
        &[Label::Norp, Label::Person],
    ),
    (
        "trailing_parts_of_a_long_name",
        "Seyyed Abdolrahim Mousavi spoke. Abdolrahim Mousavi and Mousavi left.",
        &[
            ("Seyyed Abdolrahim Mousavi", Label::Person),
            ("Abdolrahim Mousavi", Label::Person),
            ("Mousavi", Label::Person),
        ],
        &[&[0, 1, 2]],
        &[Label::Person, Label::Person, Label::Person],
    ),
    (
        "shared_surname_stays_apart",
        "Joe Biden and Hunter Biden met. Biden left.",
        &[
            ("Joe Biden", Label::Person),
            ("Hunter Biden", Label::Person),
            ("Biden", Label::Person),
        ],
        &[&[0], &[1], &[2]],
        &[Label::Person, Label::Person, Label::Person],
    ),
    (
        "acronym_defined_in_text",
        "The Atomic Energy Organization of Iran (AEOI) said so. AEOI also said.",
        &[
            ("Atomic Energy Organization of Iran", Label::Org),
            ("AEOI", Label::Org),
            ("AEOI", Label::Gpe),
        ],
        &[&[0, 1, 2]],
        &[Label::Org, Label::Org, Label::Org],
    ),
    (
        "acronym_by_initials",
        "The United States and Iran talked. The US said no.",
        &[
            ("United States", Label::Gpe),
            ("Iran", Label::Gpe),
            ("US", Label::Gpe),
        ],
        &[&[0, 2], &[1]],
        &[Label::Gpe, Label::Gpe, Label::Gpe],
    ),
    (
        "acronym_by_initials_needs_the_same_label",
        "The United States and Iran talked. The US said no.",
        &[
            ("United States", Label::Gpe),
            ("Iran", Label::Gpe),
            ("US", Label::Org),
        ],
        &[&[0], &[1], &[2]],
        &[Label::Gpe, Label::Gpe, Label::Org],
    ),
    (
        "identical_surface",
        "ISIS fought. ISIS lost. The ISIS group fled.",
        &[
            ("ISIS", Label::Org),
            ("ISIS", Label::Org),
            ("ISIS", Label::Org),
        ],
        &[&[0, 1, 2]],
        &[Label::Org, Label::Org, Label::Org],
    ),
    (
        "washington_person_and_place_stay_apart",
        "George Washington crossed the Delaware. Washington is the capital, and in Washington it rains.",
        &[
            ("George Washington", Label::Person),
            ("Delaware", Label::Loc),
            ("Washington", Label::Gpe),
            ("Washington", Label::Gpe),
        ],
        &[&[0], &[1], &[2, 3]],
        &[Label::Person, Label::Loc, Label::Gpe, Label::Gpe],
    ),
    (
        "washington_the_person_by_surname",
        "George Washington crossed the river. Washington ordered the attack.",
        &[
            ("George Washington", Label::Person),
            ("Washington", Label::Person),
        ],
        &[&[0, 1]],
        &[Label::Person, Label::Person],
    ),
    (
        "mistagged_group_is_no_full_name",
        "Virginia Democrats won. Virginia voted. Democrats cheered.",
        &[
            ("Virginia Democrats", Label::Person),
            ("Virginia", Label::Gpe),
            ("Democrats", Label::Norp),
        ],
        &[&[0], &[1], &[2]],
        &[Label::Person, Label::Gpe, Label::Norp],
    ),
    (
        "two_thirds_majority_wins",
        "Miramar is nice. Miramar is hot. Miramar is far. Miramar is near.",
        &[
            ("Miramar", Label::Gpe),
            ("Miramar", Label::Person),
            ("Miramar", Label::Gpe),
            ("Miramar", Label::Gpe),
        ],
        &[&[0, 1, 2, 3]],
        &[Label::Gpe, Label::Gpe, Label::Gpe, Label::Gpe],
    ),
    (
        "titled_person_wins_over_majority",
        "President Trump spoke. Trump left. Trump won.",
        &[
            ("Trump", Label::Person),
            ("Trump", Label::Org),
            ("Trump", Label::Org),
        ],
        &[&[0, 1, 2]],
        &[Label::Person, Label::Person, Label::Person],
    ),
    (
        "no_clear_majority_changes_nothing",
        "Miramar a. Miramar b. Miramar c. Miramar d. Miramar e.",
        &[
            ("Miramar", Label::Org),
            ("Miramar", Label::Org),
            ("Miramar", Label::Org),
            ("Miramar", Label::Gpe),
            ("Miramar", Label::Gpe),
        ],
        &[&[0, 1, 2], &[3, 4]],
        &[Label::Org, Label::Org, Label::Org, Label::Gpe, Label::Gpe],
    ),
    (
        "numbers_cluster_by_surface_only",
        "Two men came on Wednesday; two left.",
        &[
            ("Two", Label::Cardinal),
            ("Wednesday", Label::Date),
            ("two", Label::Cardinal),
        ],
        &[&[0], &[1], &[2]],
        &[Label::Cardinal, Label::Date, Label::Cardinal],
    ),
];

#[test]
fn cluster_regressions() {
    for &(case, text, entities, groups, labels) in CLUSTER_CASES {
        let mut d = doc(text, entities);
        apply(&mut d);
        check_invariants(&d);
        let got: Vec<Label> = d.entities.iter().map(|e| e.label).collect();
        assert_eq!(got, labels, "{case}");
        for (e, (_, model)) in d.entities.iter().zip(entities) {
            assert_eq!(
                e.model_label,
                (e.label != *model).then_some(*model),
                "{case}"
            );
        }
        let cluster_of = |i: usize| d.entities[i].cluster.expect("cluster");
        for group in groups {
            assert!(
                group.iter().all(|&i| cluster_of(i) == cluster_of(group[0])),
                "{case}: {group:?} should share a cluster: {:?}",
                d.clusters
            );
        }
        for (a, b) in groups.iter().zip(groups.iter().skip(1)) {
            assert_ne!(cluster_of(a[0]), cluster_of(b[0]), "{case}: {a:?} vs {b:?}");
        }
        assert_eq!(d.clusters.len(), groups.len(), "{case}: {:?}", d.clusters);
    }
}

#[test]
fn cluster_name_is_the_longest_mention_without_the() {
    let mut d = doc(
        "The Atomic Energy Organization of Iran (AEOI) spoke. AEOI left.",
        &[
            ("The Atomic Energy Organization of Iran", Label::Org),
            ("AEOI", Label::Org),
            ("AEOI", Label::Org),
        ],
    );
    apply(&mut d);
    assert_eq!(d.clusters.len(), 1);
    assert_eq!(d.clusters[0].name, "Atomic Energy Organization of Iran");
    assert_eq!(d.clusters[0].mentions, vec![0, 1, 2]);
}

#[test]
fn applying_twice_changes_nothing_more() {
    let mut once = seed();
    let snapshot = (once.entities.clone(), once.clusters.clone());
    apply(&mut once);
    assert_eq!((once.entities, once.clusters), snapshot);
}

#[test]
fn rules_can_be_switched_off_one_by_one() {
    let mut d = doc(
        "President Joe Biden spoke. Biden left.",
        &[
            ("President Joe Biden", Label::Person),
            ("Biden", Label::Person),
        ],
    );
    let changes = apply_with(
        &mut d,
        RuleSet {
            titles: false,
            ..RuleSet::default()
        },
    );
    assert_eq!(changes.trimmed, 0);
    assert_eq!(d.slice(d.entities[0].span), "President Joe Biden");
    assert_eq!(d.entities[0].title, None);
    // Untrimmed, "President Joe Biden" is still a capitalised full name that "Biden" ends.
    assert_eq!(d.entities[0].cluster, d.entities[1].cluster);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Words that exercise every rule: titles, qualifiers, acronyms, punctuation, non-ASCII.
    const VOCAB: &[&str] = &[
        "President",
        "Brig.",
        "Gen.",
        "General",
        "Motors",
        "Dr.",
        "Pepper",
        "Mr.",
        "Amir",
        "Hatami",
        "Iran’s",
        "Iran",
        "US",
        "the",
        "head",
        "of",
        "(AEOI),",
        "AEOI",
        "Energy",
        "Atomic",
        "Organization",
        "said",
        "former",
        "minister",
        "defence",
        ",",
        "Washington",
        "in",
        "—",
        "é",
        "“Biden”",
        "Ayatollah",
        "Senior",
        "Advisor",
        "\n",
        ".",
        "Joe",
        "Biden",
    ];

    fn arb_doc() -> impl Strategy<Value = Document> {
        (
            prop::collection::vec(0..VOCAB.len(), 1..40),
            prop::collection::vec((any::<bool>(), 1usize..4, 0..Label::ALL.len()), 40),
        )
            .prop_map(|(words, picks)| {
                let mut text = String::new();
                let mut spans = Vec::new();
                for &w in &words {
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push(' ');
                    }
                    spans.push((text.len(), text.len() + VOCAB[w].len()));
                    text.push_str(VOCAB[w]);
                }
                // Non-overlapping entities over runs of words, in text order.
                let mut entities = Vec::new();
                let mut i = 0;
                for (take, len, label) in picks {
                    if i >= spans.len() {
                        break;
                    }
                    let end = (i + len).min(spans.len());
                    if take && VOCAB[words[i]].trim() != "" {
                        entities.push(Entity {
                            span: Span::new(spans[i].0, spans[end - 1].1),
                            label: Label::ALL[label],
                            model_label: None,
                            sentence: None,
                            cluster: None,
                            title: None,
                        });
                    }
                    i = end;
                }
                Document {
                    text,
                    entities,
                    ..Document::default()
                }
            })
    }

    proptest! {
        #[test]
        fn any_input_keeps_the_contract(mut d in arb_doc()) {
            let before: Vec<(Span, Label)> = d.entities.iter().map(|e| (e.span, e.label)).collect();
            apply(&mut d);
            check_invariants(&d);
            prop_assert_eq!(d.entities.len(), before.len());
            for (e, (span, label)) in d.entities.iter().zip(before) {
                // Spans only shrink from the left (a trimmed title), labels keep the model's.
                prop_assert!(e.span.start >= span.start && e.span.end == span.end);
                prop_assert_eq!(e.model_label.unwrap_or(e.label), label);
                if e.span.start != span.start {
                    prop_assert!(e.title.is_some());
                }
            }
        }
    }
}
