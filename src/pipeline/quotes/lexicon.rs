//! The word lists attribution runs on: reporting verbs, pronouns, role nouns, modifiers.
//!
//! All compared in lowercase. Kept here so a list can be reviewed and extended without touching
//! the logic.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

/// Finite reporting verbs that attribute a direct quote ("…,” he **said**).
pub(crate) const CUES: &[&str] = &[
    "acknowledged",
    "acknowledges",
    "added",
    "adds",
    "admits",
    "admitted",
    "affirmed",
    "agreed",
    "alleged",
    "announced",
    "announces",
    "answered",
    "argued",
    "argues",
    "asked",
    "asks",
    "asserted",
    "asserts",
    "began",
    "boasted",
    "cautioned",
    "chimed",
    "claimed",
    "claims",
    "commented",
    "complained",
    "conceded",
    "concedes",
    "concluded",
    "confirmed",
    "confirms",
    "continued",
    "continues",
    "countered",
    "cried",
    "declared",
    "declares",
    "denied",
    "emphasised",
    "emphasises",
    "emphasized",
    "emphasizes",
    "explained",
    "explains",
    "insisted",
    "insists",
    "interjected",
    "joked",
    "lamented",
    "laughed",
    "maintained",
    "mused",
    "noted",
    "notes",
    "observed",
    "opined",
    "pleaded",
    "pledged",
    "posted",
    "predicted",
    "promised",
    "quipped",
    "recalled",
    "recalls",
    "recounted",
    "reiterated",
    "remarked",
    "replied",
    "replies",
    "reported",
    "responded",
    "retorted",
    "said",
    "say",
    "says",
    "screamed",
    "shouted",
    "sighed",
    "snapped",
    "stated",
    "states",
    "stressed",
    "stresses",
    "suggested",
    "suggests",
    "tells",
    "testified",
    "texted",
    "told",
    "tweeted",
    "tweets",
    "underlined",
    "underscored",
    "urged",
    "urges",
    "vowed",
    "warned",
    "warns",
    "went",
    "whispered",
    "wondered",
    "writes",
    "wrote",
    "yelled",
];

/// Participles whose subject is the sentence's ("He touched upon …, **saying**, “…”").
pub(crate) const PARTICIPLE_CUES: &[&str] = &[
    "acknowledging",
    "adding",
    "admitting",
    "answering",
    "arguing",
    "asking",
    "claiming",
    "concluding",
    "continuing",
    "declaring",
    "emphasising",
    "emphasizing",
    "explaining",
    "insisting",
    "noting",
    "observing",
    "posting",
    "recalling",
    "remarking",
    "replying",
    "responding",
    "saying",
    "stating",
    "stressing",
    "telling",
    "tweeting",
    "urging",
    "warning",
    "writing",
];

/// Reporting verbs that introduce reported speech without quotation marks ("He **said** Iran
/// has adopted …"): narrower than [`CUES`], whose "asked"/"wondered" take no statement.
pub(crate) const REPORTED_CUES: &[&str] = &[
    "acknowledged",
    "added",
    "adds",
    "admitted",
    "affirmed",
    "alleged",
    "announced",
    "argued",
    "argues",
    "asserted",
    "believes",
    "cautioned",
    "claimed",
    "claims",
    "conceded",
    "confirmed",
    "contended",
    "contends",
    "declared",
    "disclosed",
    "emphasised",
    "emphasized",
    "explained",
    "insisted",
    "insists",
    "maintained",
    "noted",
    "notes",
    "predicted",
    "reiterated",
    "reported",
    "revealed",
    "said",
    "says",
    "stated",
    "states",
    "stressed",
    "suggested",
    "tells",
    "told",
    "tweeted",
    "underlined",
    "underscored",
    "warned",
    "warns",
    "wrote",
];

/// Pronouns that can be a speaker.
pub(crate) const PRONOUNS: &[&str] = &["he", "i", "it", "she", "they", "we", "you"];

/// Adverbs that stand between a speaker and the verb ("he **later** said").
pub(crate) const ADVERBS: &[&str] = &[
    "again",
    "also",
    "did",
    "does",
    "earlier",
    "finally",
    "first",
    "further",
    "had",
    "has",
    "have",
    "later",
    "once",
    "only",
    "previously",
    "privately",
    "publicly",
    "recently",
    "separately",
    "simply",
    "then",
    "will",
    "would",
];

/// Determiners and possessives that start a description ("**the** top general").
pub(crate) const DETERMINERS: &[&str] = &[
    "a", "an", "another", "her", "his", "its", "one", "our", "that", "the", "their", "this",
];

/// Prepositions before a mention that make it no subject ("a meeting **with** Iraq’s minister").
pub(crate) const PREPOSITIONS: &[&str] = &[
    "about", "against", "among", "and", "at", "between", "by", "for", "from", "in", "into", "like",
    "met", "of", "on", "or", "than", "to", "told", "toward", "towards", "upon", "with",
];

/// Nouns that head a description of a person ("the top **general**", "Iran’s defence
/// **minister**").
pub(crate) const ROLES: &[&str] = &[
    "activist",
    "activists",
    "actor",
    "actress",
    "admiral",
    "adviser",
    "advisor",
    "aide",
    "ambassador",
    "analyst",
    "analysts",
    "artist",
    "attorney",
    "author",
    "banker",
    "biologist",
    "bishop",
    "boss",
    "brigadier",
    "brother",
    "campaigner",
    "candidate",
    "captain",
    "ceo",
    "chair",
    "chairman",
    "chairwoman",
    "chancellor",
    "chemist",
    "chief",
    "cleric",
    "coach",
    "colonel",
    "commander",
    "congressman",
    "congresswoman",
    "correspondent",
    "counterpart",
    "daughter",
    "deputy",
    "diplomat",
    "diplomats",
    "director",
    "doctor",
    "doctors",
    "economist",
    "editor",
    "engineer",
    "envoy",
    "executive",
    "expert",
    "experts",
    "farmer",
    "father",
    "founder",
    "friend",
    "general",
    "governor",
    "guitarist",
    "head",
    "historian",
    "husband",
    "imam",
    "inspector",
    "investigator",
    "investor",
    "journalist",
    "judge",
    "king",
    "lawmaker",
    "lawmakers",
    "lawyer",
    "leader",
    "leaders",
    "legislator",
    "lieutenant",
    "major",
    "man",
    "manager",
    "mayor",
    "mediator",
    "minister",
    "ministers",
    "monarch",
    "mother",
    "mp",
    "musician",
    "negotiator",
    "neighbor",
    "neighbour",
    "nominee",
    "nurse",
    "officer",
    "officers",
    "official",
    "officials",
    "organiser",
    "organizer",
    "owner",
    "physician",
    "player",
    "pollster",
    "pope",
    "premier",
    "president",
    "priest",
    "prince",
    "professor",
    "prosecutor",
    "psychologist",
    "queen",
    "rabbi",
    "relative",
    "reporter",
    "representative",
    "researcher",
    "resident",
    "residents",
    "scientist",
    "secretary",
    "senator",
    "sergeant",
    "sheriff",
    "singer",
    "sister",
    "sociologist",
    "son",
    "source",
    "sources",
    "speaker",
    "spokesman",
    "spokespeople",
    "spokesperson",
    "spokeswoman",
    "strategist",
    "student",
    "superintendent",
    "surgeon",
    "survivor",
    "teacher",
    "trader",
    "veteran",
    "victim",
    "wife",
    "witness",
    "witnesses",
    "woman",
    "worker",
    "writer",
];

/// Nouns that head a description of an organisation or document that speaks ("the
/// **company** said", "the **statement** said").
pub(crate) const ORG_NOUNS: &[&str] = &[
    "administration",
    "agency",
    "airline",
    "army",
    "authorities",
    "authority",
    "bank",
    "board",
    "cabinet",
    "campaign",
    "club",
    "commission",
    "committee",
    "company",
    "congress",
    "council",
    "court",
    "department",
    "embassy",
    "firm",
    "government",
    "group",
    "hospital",
    "kremlin",
    "letter",
    "military",
    "ministry",
    "network",
    "newspaper",
    "office",
    "organisation",
    "organization",
    "palace",
    "parliament",
    "party",
    "pentagon",
    "police",
    "regulator",
    "report",
    "school",
    "senate",
    "spokesperson's",
    "statement",
    "study",
    "survey",
    "team",
    "union",
    "university",
];

/// Words that end a description's modifiers: verbs, function words, conjunctions.
pub(crate) const STOP: &[&str] = &[
    "a", "about", "after", "all", "also", "although", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "down",
    "during", "each", "every", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "may", "might", "more", "most", "must", "no", "not",
    "of", "off", "on", "or", "out", "over", "shall", "she", "should", "since", "so", "some",
    "than", "that", "the", "their", "then", "there", "these", "they", "this", "those", "though",
    "to", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "whose", "why", "will", "with", "would", "you",
];

/// Heads so general that they fit any person named earlier ("the **official**").
pub(crate) const GENERIC_ROLES: &[&str] = &["chief", "head", "leader", "official", "source"];

/// Words that qualify a role inside a description ("the **top** general").
pub(crate) const MODIFIERS: &[&str] = &[
    "acting",
    "army",
    "assistant",
    "associate",
    "campaign",
    "chief",
    "city",
    "company",
    "county",
    "defence",
    "defense",
    "deputy",
    "district",
    "economic",
    "elderly",
    "executive",
    "federal",
    "foreign",
    "former",
    "general",
    "government",
    "health",
    "house",
    "incoming",
    "intelligence",
    "interim",
    "international",
    "lead",
    "legal",
    "local",
    "longtime",
    "managing",
    "medical",
    "military",
    "national",
    "new",
    "opposition",
    "outgoing",
    "party",
    "police",
    "political",
    "presidential",
    "press",
    "prime",
    "principal",
    "public",
    "regional",
    "retired",
    "royal",
    "security",
    "senior",
    "special",
    "state",
    "top",
    "union",
    "veteran",
    "vice",
    "white",
    "young",
];

/// Portfolios: a description with one fits only a person with the same or none
/// ("**defence** chief" is not the "**communications** minister").
pub(crate) const PORTFOLIOS: &[&str] = &[
    "agriculture",
    "army",
    "commerce",
    "communications",
    "culture",
    "defence",
    "defense",
    "economy",
    "education",
    "energy",
    "environment",
    "finance",
    "foreign",
    "health",
    "home",
    "industry",
    "information",
    "intelligence",
    "interior",
    "judiciary",
    "justice",
    "labor",
    "labour",
    "military",
    "nuclear",
    "oil",
    "police",
    "prime",
    "security",
    "trade",
    "transport",
    "treasury",
];

/// Female honorifics and words, to keep "she" off a man and "he" off a woman.
pub(crate) const FEMALE: &[&str] = &[
    "chairwoman",
    "congresswoman",
    "dame",
    "her",
    "lady",
    "madam",
    "miss",
    "mother",
    "mrs",
    "mrs.",
    "ms",
    "ms.",
    "princess",
    "queen",
    "she",
    "spokeswoman",
    "woman",
];

/// Male honorifics and words.
pub(crate) const MALE: &[&str] = &[
    "chairman",
    "congressman",
    "father",
    "he",
    "him",
    "his",
    "king",
    "lord",
    "man",
    "mr",
    "mr.",
    "prince",
    "sir",
    "spokesman",
];

/// The lists a word is in, one bit a list: the stage asks of each word up to a dozen times
/// which lists hold it, so it looks each word up once (one hash probe for all fifteen lists)
/// and keeps the answer next to the word. Binary searches of the lists on every question were
/// half of the stage's time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Class(u16);

impl Class {
    pub(crate) const CUES: Self = Self(1);
    pub(crate) const PARTICIPLE_CUES: Self = Self(1 << 1);
    pub(crate) const REPORTED_CUES: Self = Self(1 << 2);
    pub(crate) const PRONOUNS: Self = Self(1 << 3);
    pub(crate) const ADVERBS: Self = Self(1 << 4);
    pub(crate) const DETERMINERS: Self = Self(1 << 5);
    pub(crate) const PREPOSITIONS: Self = Self(1 << 6);
    pub(crate) const ROLES: Self = Self(1 << 7);
    pub(crate) const ORG_NOUNS: Self = Self(1 << 8);
    pub(crate) const STOP: Self = Self(1 << 9);
    pub(crate) const GENERIC_ROLES: Self = Self(1 << 10);
    pub(crate) const MODIFIERS: Self = Self(1 << 11);
    pub(crate) const PORTFOLIOS: Self = Self(1 << 12);
    pub(crate) const FEMALE: Self = Self(1 << 13);
    pub(crate) const MALE: Self = Self(1 << 14);

    /// Every list with its bit.
    const LISTS: [(&'static [&'static str], Self); 15] = [
        (CUES, Self::CUES),
        (PARTICIPLE_CUES, Self::PARTICIPLE_CUES),
        (REPORTED_CUES, Self::REPORTED_CUES),
        (PRONOUNS, Self::PRONOUNS),
        (ADVERBS, Self::ADVERBS),
        (DETERMINERS, Self::DETERMINERS),
        (PREPOSITIONS, Self::PREPOSITIONS),
        (ROLES, Self::ROLES),
        (ORG_NOUNS, Self::ORG_NOUNS),
        (STOP, Self::STOP),
        (GENERIC_ROLES, Self::GENERIC_ROLES),
        (MODIFIERS, Self::MODIFIERS),
        (PORTFOLIOS, Self::PORTFOLIOS),
        (FEMALE, Self::FEMALE),
        (MALE, Self::MALE),
    ];

    /// The lists lowercase `word` is in.
    pub(crate) fn of(word: &str) -> Self {
        static CLASSES: LazyLock<FxHashMap<&'static str, Class>> = LazyLock::new(|| {
            let mut map = FxHashMap::default();
            for (list, class) in Class::LISTS {
                for &word in list {
                    *map.entry(word).or_default() |= class;
                }
            }
            map
        });
        CLASSES.get(word).copied().unwrap_or_default()
    }

    /// Whether the word is in any of the lists of `lists`.
    pub(crate) const fn has(self, lists: Self) -> bool {
        self.0 & lists.0 != 0
    }
}

impl std::ops::BitOr for Class {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Class {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_has_the_bit_of_every_list_it_is_in_and_no_other() {
        for (list, class) in Class::LISTS {
            for &word in list {
                let got = Class::of(word);
                assert!(got.has(class), "{word:?} lacks its list's bit");
                for (other, bit) in Class::LISTS {
                    assert_eq!(got.has(bit), other.contains(&word), "{word:?} and {bit:?}");
                }
            }
        }
        assert_eq!(Class::of("said"), Class::CUES | Class::REPORTED_CUES);
        assert_eq!(Class::of("table"), Class::default());
        assert_eq!(Class::of(""), Class::default());
    }
}
