//! Synth: realistic customer records with known duplicates, for the
//! bundled example, tests and benchmarks. Not for judging accuracy: the
//! same hands wrote it and the matcher.
//!
//! People are drawn as real tables hold them. Names follow real
//! frequencies (the US Census Bureau's 1990 lists: many Smiths and Marys,
//! a long tail of rare names), so agreeing on a name says as much or as
//! little as it does in real data. Each person has an e-mail, phone,
//! street address, city, state, zip and birth date. On top, each switched
//! on unless [`SynthOptions::without`] names it ([`Phenomenon`]):
//!
//! - **households**: people at one address, mostly of one surname,
//!   sometimes with one phone; different first names and birth dates (the
//!   hard non-matches of marketing data), with **twins** (one birth date)
//!   and **juniors** (a son with his father's name, `Jr` / `Sr` now and
//!   then) among them, and **family e-mails** one household shares;
//! - in duplicates: **moves** (a new address), **surname changes**,
//!   **nicknames**, **titles** and suffixes (`Dr`, `Mrs`, `III`),
//!   **missing** values (in first records too), and typos, swapped first
//!   and last names, reformatted phones, e-mails and dates, street
//!   abbreviations, a wrong zip digit;
//! - **large entities**: one person in a hundred has 6 to 20 records.
//!
//! Rows come out shuffled, with opaque keys, and the truth (each row's
//! person) alongside. The same seed gives the same data.

use std::str::FromStr;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::names;
use crate::rng::Rng;

/// A phenomenon of real person data that synth can put in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phenomenon {
    /// People at one address, mostly of one surname.
    Households,
    /// Household members born on one day.
    Twins,
    /// A son with his father's first name (and `Jr` / `Sr`).
    Juniors,
    /// Duplicates at a new address.
    Moves,
    /// Duplicates under another surname.
    SurnameChanges,
    /// One e-mail address shared by a household.
    FamilyEmails,
    /// Duplicates under a nickname (Bill for William).
    Nicknames,
    /// Titles and suffixes in name fields (Dr, Mrs, III).
    Titles,
    /// Empty fields.
    Missing,
    /// A few people with 6 to 20 records.
    LargeEntities,
}

impl Phenomenon {
    /// Every phenomenon.
    pub const ALL: [Phenomenon; 10] = [
        Phenomenon::Households,
        Phenomenon::Twins,
        Phenomenon::Juniors,
        Phenomenon::Moves,
        Phenomenon::SurnameChanges,
        Phenomenon::FamilyEmails,
        Phenomenon::Nicknames,
        Phenomenon::Titles,
        Phenomenon::Missing,
        Phenomenon::LargeEntities,
    ];

    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Phenomenon::Households => "households",
            Phenomenon::Twins => "twins",
            Phenomenon::Juniors => "juniors",
            Phenomenon::Moves => "moves",
            Phenomenon::SurnameChanges => "surname-changes",
            Phenomenon::FamilyEmails => "family-emails",
            Phenomenon::Nicknames => "nicknames",
            Phenomenon::Titles => "titles",
            Phenomenon::Missing => "missing",
            Phenomenon::LargeEntities => "large-entities",
        }
    }
}

impl FromStr for Phenomenon {
    type Err = String;

    fn from_str(s: &str) -> Result<Phenomenon, String> {
        Phenomenon::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Phenomenon::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown phenomenon '{s}' (phenomena: {})", names.join(", "))
        })
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Number of distinct people.
    pub entities: usize,
    /// Share of people that have duplicates.
    pub duplicate_share: f64,
    /// Most duplicates one person can have (large entities aside).
    pub max_duplicates: usize,
    /// Seed.
    pub seed: u64,
    /// Prefix of the generated keys.
    pub key_prefix: String,
    /// Phenomena left out.
    pub without: Vec<Phenomenon>,
}

impl Default for SynthOptions {
    fn default() -> SynthOptions {
        SynthOptions {
            entities: 1000,
            duplicate_share: 0.3,
            max_duplicates: 5,
            seed: 42,
            key_prefix: "c".into(),
            without: Vec::new(),
        }
    }
}

impl SynthOptions {
    fn has(&self, p: Phenomenon) -> bool {
        !self.without.contains(&p)
    }
}

/// Generated records and the entity of each row.
pub struct Synthetic {
    /// The records (all columns strings).
    pub batch: RecordBatch,
    /// Entity number of each row.
    pub entity: Vec<u64>,
}

/// The columns of generated records.
pub const COLUMNS: [&str; 10] = [
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "state",
    "zip",
    "birth_date",
];

/// Share of people who live in a household of two to five.
const HOUSEHOLD_SHARE: f64 = 0.45;
/// Share of households of one surname.
const ONE_SURNAME: f64 = 0.85;
/// Share of households with one phone for all.
const SHARED_PHONE: f64 = 0.35;
/// Share of households with one e-mail for all.
const SHARED_EMAIL: f64 = 0.2;
/// Share of households with children where two are twins.
const TWINS: f64 = 0.1;
/// Share of households with a son where he is his father's junior.
const JUNIORS: f64 = 0.15;
/// Share of people with 6 to 20 records.
const LARGE_ENTITY: f64 = 0.01;

const NICKNAMES: &[(&str, &str)] = &[
    ("william", "bill"),
    ("robert", "bob"),
    ("richard", "dick"),
    ("elizabeth", "liz"),
    ("james", "jim"),
    ("michael", "mike"),
    ("thomas", "tom"),
    ("joseph", "joe"),
    ("margaret", "peggy"),
    ("katherine", "kate"),
    ("christopher", "chris"),
    ("daniel", "dan"),
    ("matthew", "matt"),
    ("anthony", "tony"),
    ("david", "dave"),
    ("edward", "ted"),
    ("patricia", "pat"),
    ("jennifer", "jen"),
    ("samuel", "sam"),
    ("benjamin", "ben"),
    ("nicholas", "nick"),
    ("stephen", "steve"),
    ("timothy", "tim"),
    ("jessica", "jess"),
    ("susan", "sue"),
    ("charles", "chuck"),
    ("kenneth", "ken"),
    ("deborah", "debbie"),
    ("barbara", "barb"),
    ("kimberly", "kim"),
    ("rebecca", "becky"),
    ("gregory", "greg"),
    ("jonathan", "jon"),
    ("alexander", "alex"),
    ("victoria", "vicky"),
];

const TITLES: &[&str] = &["Dr", "Mr", "Mrs", "Ms", "Miss"];
const SUFFIXES: &[&str] = &["II", "III", "PhD", "MD"];

const STREETS: &[&str] = &[
    "main",
    "oak",
    "pine",
    "maple",
    "cedar",
    "elm",
    "washington",
    "lake",
    "hill",
    "park",
    "church",
    "high",
    "mill",
    "river",
    "spring",
    "sunset",
    "ridge",
    "meadow",
    "forest",
    "valley",
    "chestnut",
    "walnut",
    "willow",
    "birch",
    "lincoln",
    "jefferson",
    "madison",
    "franklin",
    "jackson",
    "highland",
    "railroad",
    "center",
    "union",
    "prospect",
    "school",
    "bridge",
    "market",
    "liberty",
    "north",
    "south",
    "east",
    "west",
    "green",
    "water",
    "locust",
    "cherry",
    "dogwood",
    "hickory",
    "magnolia",
    "poplar",
    "sycamore",
    "laurel",
    "holly",
    "aspen",
    "juniper",
    "orchard",
    "harbor",
    "bay",
    "canyon",
    "summit",
];

const STREET_TYPES: &[(&str, &str)] = &[
    ("street", "st"),
    ("road", "rd"),
    ("avenue", "ave"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("court", "ct"),
    ("place", "pl"),
    ("boulevard", "blvd"),
    ("terrace", "tce"),
    ("way", "way"),
];

const CITIES: &[(&str, &str, u32)] = &[
    ("springfield", "IL", 62701),
    ("riverside", "CA", 92501),
    ("franklin", "TN", 37064),
    ("greenville", "SC", 29601),
    ("bristol", "CT", 6010),
    ("clinton", "IA", 52732),
    ("fairview", "OR", 97024),
    ("salem", "MA", 1970),
    ("madison", "WI", 53703),
    ("georgetown", "TX", 78626),
    ("arlington", "VA", 22201),
    ("ashland", "OR", 97520),
    ("dover", "DE", 19901),
    ("oxford", "MS", 38655),
    ("milton", "MA", 2186),
    ("newport", "RI", 2840),
    ("auburn", "AL", 36830),
    ("dayton", "OH", 45402),
    ("lexington", "KY", 40507),
    ("marion", "IN", 46952),
    ("burlington", "VT", 5401),
    ("manchester", "NH", 3101),
    ("columbia", "MO", 65201),
    ("jackson", "MS", 39201),
    ("hudson", "NY", 12534),
    ("kingston", "NY", 12401),
    ("chester", "PA", 19013),
    ("lebanon", "PA", 17042),
    ("camden", "NJ", 8102),
    ("mount vernon", "NY", 10550),
    ("winchester", "VA", 22601),
    ("florence", "AL", 35630),
    ("portland", "ME", 4101),
    ("cleveland", "OH", 44113),
    ("hamilton", "OH", 45011),
    ("troy", "NY", 12180),
    ("lancaster", "PA", 17602),
    ("aurora", "IL", 60505),
    ("rochester", "MN", 55901),
    ("boulder", "CO", 80302),
];

const DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "proton.me",
    "mail.com",
];

/// Invented streets and towns beyond the real ones (a name list is not at
/// hand for them), so that large files have a long tail of places.
const GENERATED_STREETS: usize = 1_500;
const GENERATED_CITIES: usize = 3_000;
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND",
    "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
];

/// A made-up but pronounceable word of two or three syllables.
fn invented(rng: &mut Rng, endings: &[&str]) -> String {
    const ONSETS: &[&str] = &[
        "b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr", "r", "s",
        "sh", "st", "t", "th", "tr", "v", "w", "z",
    ];
    const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "ou", "y", "ee", "oa"];
    const CODAS: &[&str] = &["", "", "n", "r", "l", "s", "t", "ck", "ll", "rd", "nd", "m", "x", "ng"];
    let mut word = String::new();
    for _ in 0..2 + rng.below(2) {
        let (onset, vowel): (&&str, &&str) = (rng.pick(ONSETS), rng.pick(VOWELS));
        word.push_str(onset);
        word.push_str(vowel);
    }
    let (coda, ending): (&&str, &&str) = (rng.pick(CODAS), rng.pick(endings));
    word.push_str(coda);
    word.push_str(ending);
    word
}

/// Draws indices 0..n with Zipf-like weights 1/(i + offset): the first
/// (common) entries often, the long tail rarely.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, offset: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|i| {
                total += 1.0 / (i as f64 + offset);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative.partition_point(|&c| c < x).min(self.cumulative.len().saturating_sub(1))
    }
}

/// Draws from a list with given weights.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl Iterator<Item = f64>) -> Weighted {
        let mut total = 0.0;
        Weighted {
            cumulative: weights
                .map(|w| {
                    total += w;
                    total
                })
                .collect(),
        }
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative.partition_point(|&c| c < x).min(self.cumulative.len().saturating_sub(1))
    }
}

/// One of the name lists, with weights; names rounded to 0 percent weigh
/// as if half the last digit.
fn name_list(list: &'static str) -> (Vec<String>, Weighted) {
    let rows: Vec<(&str, f64)> = names::rows(list).map(|(n, pct)| (n, pct.max(0.0005))).collect();
    (rows.iter().map(|(n, _)| n.to_string()).collect(), Weighted::new(rows.iter().map(|(_, w)| *w)))
}

/// The names, streets and places people are drawn from; fixed (not seeded
/// by the caller) so every run draws from the same world.
struct World {
    female: (Vec<String>, Weighted),
    male: (Vec<String>, Weighted),
    last: (Vec<String>, Weighted),
    streets: Vec<String>,
    cities: Vec<(String, String, u32)>,
    street_zipf: Zipf,
    city_zipf: Zipf,
}

impl World {
    fn new() -> World {
        let mut rng = Rng::new(0x5EED_F00D);
        let unique = |common: &[&str], extra: usize, endings: &[&str], rng: &mut Rng| {
            let mut names: Vec<String> = common.iter().map(|s| s.to_string()).collect();
            let mut seen: std::collections::HashSet<String> = names.iter().cloned().collect();
            while names.len() < common.len() + extra {
                let word = invented(rng, endings);
                if word.len() >= 4 && seen.insert(word.clone()) {
                    names.push(word);
                }
            }
            names
        };
        let streets =
            unique(STREETS, GENERATED_STREETS, &["", "wood", "field", "view", "dale", "brook"], &mut rng);
        let mut cities: Vec<(String, String, u32)> =
            CITIES.iter().map(|(c, s, z)| (c.to_string(), s.to_string(), *z)).collect();
        let names = unique(
            &[],
            GENERATED_CITIES,
            &["ville", "ton", "burg", " springs", " falls", "field", ""],
            &mut rng,
        );
        for name in names {
            let state = (*rng.pick(STATES)).to_string();
            cities.push((name, state, 1000 + rng.below(98_000) as u32));
        }
        World {
            female: name_list(names::FEMALE),
            male: name_list(names::MALE),
            last: name_list(names::SURNAMES),
            street_zipf: Zipf::new(streets.len(), 20.0),
            city_zipf: Zipf::new(cities.len(), 20.0),
            streets,
            cities,
        }
    }

    fn first_name(&self, female: bool, rng: &mut Rng) -> String {
        let (names, weights) = if female { &self.female } else { &self.male };
        names[weights.draw(rng)].clone()
    }

    fn last_name(&self, rng: &mut Rng) -> String {
        self.last.0[self.last.1.draw(rng)].clone()
    }
}

#[derive(Clone)]
struct Address {
    number: u32,
    street: String,
    street_type: usize,
    city: usize,
    zip: u32,
}

#[derive(Clone)]
struct Person {
    female: bool,
    first: String,
    last: String,
    /// `Jr` or `Sr`, for a junior and his father.
    suffix: Option<&'static str>,
    email: String,
    phone: [u32; 3],
    address: Address,
    birth: (i32, u32, u32),
}

fn address(world: &World, rng: &mut Rng) -> Address {
    let city = world.city_zipf.draw(rng);
    Address {
        number: 1 + rng.below(9_999) as u32,
        street: world.streets[world.street_zipf.draw(rng)].clone(),
        street_type: rng.below(STREET_TYPES.len()),
        city,
        zip: world.cities[city].2 + rng.below(40) as u32,
    }
}

fn email(first: &str, last: &str, year: i32, rng: &mut Rng) -> String {
    let local = match rng.below(4) {
        0 => format!("{first}.{last}"),
        1 => format!("{}{last}{}", &first[..1], rng.below(100)),
        2 => format!("{first}{year}"),
        _ => format!("{first}_{last}{}", rng.below(10)),
    };
    local + "@" + *rng.pick(DOMAINS)
}

/// The e-mail addresses given out so far. An address belongs to one person
/// (or one household's shared address), as a provider allows: a taken one
/// gets a number, the way sign-up pages suggest (`mary1935` → `mary19352`).
/// Without this, popular names collided (`mary1935@gmail.com` for two
/// Marys born in 1935), which real customer tables do not show.
#[derive(Default)]
struct EmailBook {
    taken: std::collections::HashSet<String>,
}

impl EmailBook {
    /// Give each distinct address of one household's `people` to them
    /// alone, renaming those already taken by other households.
    fn claim(&mut self, people: &mut [Person]) {
        let mut renamed: Vec<(String, String)> = Vec::new();
        for p in people.iter_mut() {
            if let Some((_, new)) = renamed.iter().find(|(old, _)| *old == p.email) {
                p.email = new.clone();
                continue;
            }
            let (local, domain) = p.email.split_once('@').unwrap_or((&p.email, ""));
            let mut candidate = p.email.clone();
            let mut n = 2;
            while self.taken.contains(&candidate) {
                candidate = format!("{local}{n}@{domain}");
                n += 1;
            }
            self.taken.insert(candidate.clone());
            renamed.push((p.email.clone(), candidate.clone()));
            p.email = candidate;
        }
    }
}

fn phone(rng: &mut Rng) -> [u32; 3] {
    [200 + rng.below(800) as u32, 200 + rng.below(800) as u32, rng.below(10_000) as u32]
}

fn birth(year: i32, rng: &mut Rng) -> (i32, u32, u32) {
    (year.clamp(1920, 2008), 1 + rng.below(12) as u32, 1 + rng.below(28) as u32)
}

fn person(world: &World, female: bool, last: String, address: Address, born: i32, rng: &mut Rng) -> Person {
    let first = world.first_name(female, rng);
    let birth = birth(born, rng);
    Person {
        female,
        email: email(&first, &last, birth.0, rng),
        first,
        last,
        suffix: None,
        phone: phone(rng),
        address,
        birth,
    }
}

/// The people of one household (or one person alone), as `options` allow.
fn household(world: &World, options: &SynthOptions, rng: &mut Rng) -> Vec<Person> {
    let last = world.last_name(rng);
    let home = address(world, rng);
    let born = 1930 + rng.below(50) as i32;
    let head = person(world, rng.chance(0.5), last.clone(), home.clone(), born, rng);
    if !options.has(Phenomenon::Households) || !rng.chance(HOUSEHOLD_SHARE) {
        return vec![head];
    }
    let size = 2 + rng.below(4);
    let mut people = vec![head.clone()];
    let partner_last = if rng.chance(ONE_SURNAME) { last.clone() } else { world.last_name(rng) };
    people.push(person(
        world,
        !head.female,
        partner_last,
        home.clone(),
        born - 5 + rng.below(11) as i32,
        rng,
    ));
    let first_child = people.len();
    for _ in 2..size {
        // Children of parents born late are born young enough to be adults.
        let year = (born + 20 + rng.below(20) as i32).min(2008 - rng.below(12) as i32);
        let child = person(world, rng.chance(0.5), last.clone(), home.clone(), year, rng);
        people.push(child);
    }
    let children = people.len() - first_child;
    if options.has(Phenomenon::Twins) && children >= 2 && rng.chance(TWINS) {
        people[first_child + 1].birth = people[first_child].birth;
    }
    let father = people.iter().position(|p| !p.female);
    let son = (first_child..people.len()).find(|&i| !people[i].female);
    if let (true, Some(father), Some(son)) = (options.has(Phenomenon::Juniors), father, son) {
        if father < first_child && people[father].last == people[son].last && rng.chance(JUNIORS) {
            people[son].first = people[father].first.clone();
            people[son].suffix = Some("Jr");
            people[father].suffix = Some("Sr");
        }
    }
    if rng.chance(SHARED_PHONE) {
        let landline = people[0].phone;
        people.iter_mut().for_each(|p| p.phone = landline);
    }
    if options.has(Phenomenon::FamilyEmails) && rng.chance(SHARED_EMAIL) {
        let family = format!("{}{}@{}", if rng.chance(0.5) { "the" } else { "" }, last, rng.pick(DOMAINS));
        let family = if family.starts_with("the") { family.replacen('@', "s@", 1) } else { family };
        people.iter_mut().for_each(|p| p.email = family.clone());
    }
    people
}

fn typo(word: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 3 {
        return word.to_string();
    }
    let i = 1 + rng.below(chars.len() - 1);
    let letter = (b'a' + rng.below(26) as u8) as char;
    match rng.below(4) {
        0 => {
            chars.remove(i);
        }
        1 => chars.insert(i, letter),
        2 => chars[i] = letter,
        _ => chars.swap(i - 1, i),
    }
    chars.into_iter().collect()
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How one row writes a person; duplicates vary it.
struct Style {
    phone: usize,
    date: usize,
    abbreviate: bool,
    upper: bool,
    suffix: bool,
}

impl Style {
    fn new(upper: f64, rng: &mut Rng) -> Style {
        Style {
            phone: rng.below(4),
            date: rng.below(3),
            abbreviate: rng.chance(0.5),
            upper: rng.chance(upper),
            suffix: rng.chance(0.5),
        }
    }
}

fn row(world: &World, p: &Person, style: &Style) -> [String; 9] {
    let [a, b, c] = p.phone;
    let phone = match style.phone {
        0 => format!("({a}) {b}-{c:04}"),
        1 => format!("{a}-{b}-{c:04}"),
        2 => format!("+1 {a} {b} {c:04}"),
        _ => format!("{a}.{b}.{c:04}"),
    };
    let (y, m, d) = p.birth;
    let birth = match style.date {
        0 => format!("{y:04}-{m:02}-{d:02}"),
        1 => format!("{m:02}/{d:02}/{y:04}"),
        _ => format!("{y:04}{m:02}{d:02}"),
    };
    let home = &p.address;
    let (full, short) = STREET_TYPES[home.street_type];
    let street = format!(
        "{} {} {}",
        home.number,
        title_case(&home.street),
        title_case(if style.abbreviate { short } else { full })
    );
    let (city, state, _) = &world.cities[home.city];
    let name = |s: &str| if style.upper { s.to_uppercase() } else { title_case(s) };
    let last = match p.suffix {
        Some(suffix) if style.suffix => format!("{} {suffix}", name(&p.last)),
        _ => name(&p.last),
    };
    [
        name(&p.first),
        last,
        p.email.clone(),
        phone,
        street,
        title_case(city),
        state.clone(),
        format!("{:05}", home.zip),
        birth,
    ]
}

/// Clear each of the fields that may be missing with chance `p`.
fn blank(fields: &mut [String; 9], p: f64, rng: &mut Rng) {
    for i in [0, 2, 3, 4, 8] {
        if rng.chance(p) {
            fields[i].clear();
        }
    }
}

/// Apply one to three defects to a duplicate's fields, as `options` allow.
fn corrupt(world: &World, options: &SynthOptions, p: &Person, fields: &mut [String; 9], rng: &mut Rng) {
    let defects = 1 + rng.below(3);
    for _ in 0..defects {
        match rng.below(15) {
            0 => fields[0] = title_case(&typo(&p.first, rng)),
            1 => fields[1] = title_case(&typo(&p.last, rng)),
            2 => match NICKNAMES.iter().find(|(full, _)| *full == p.first) {
                Some((_, nick)) if options.has(Phenomenon::Nicknames) => fields[0] = title_case(nick),
                _ => fields[0] = title_case(&typo(&p.first, rng)),
            },
            3 => fields.swap(0, 1),
            4 if options.has(Phenomenon::Missing) => {
                let i = *rng.pick(&[2usize, 3, 4, 8]);
                fields[i].clear();
            }
            5 => fields[2] = fields[2].to_uppercase(),
            6 => {
                let (local, domain) = p.email.split_once('@').unwrap_or((&p.email, ""));
                fields[2] = format!("{}@{domain}", typo(local, rng));
            }
            7 => fields[7] = format!("{:05}", p.address.zip + 1 + rng.below(8) as u32),
            8 => fields[5] = title_case(&typo(&world.cities[p.address.city].0, rng)),
            9 => {
                let (y, m, d) = p.birth;
                fields[8] = format!("{y:04}-{d:02}-{m:02}");
            }
            10 if options.has(Phenomenon::Moves) => {
                let moved = Person { address: address(world, rng), phone: phone(rng), ..p.clone() };
                let fresh = row(world, &moved, &Style::new(0.0, rng));
                for i in [3, 4, 5, 6, 7] {
                    fields[i] = fresh[i].clone();
                }
            }
            11 if options.has(Phenomenon::SurnameChanges) && p.female => {
                fields[1] = title_case(&world.last_name(rng));
            }
            12 if options.has(Phenomenon::Titles) => {
                if rng.chance(0.6) {
                    let title = if p.female { *rng.pick(&TITLES[2..]) } else { *rng.pick(&TITLES[..2]) };
                    fields[0] = format!("{title} {}", fields[0]);
                } else {
                    fields[1] = format!("{} {}", fields[1], rng.pick(SUFFIXES));
                }
            }
            _ => {
                fields[4] = format!(
                    "{} {}",
                    p.address.number + 1 + rng.below(20) as u32,
                    fields[4].split_once(' ').map_or("", |x| x.1)
                )
            }
        }
    }
}

/// Generate customer records.
pub fn generate(options: &SynthOptions) -> Synthetic {
    let world = World::new();
    let mut rng = Rng::new(options.seed);
    let mut rows: Vec<([String; 9], u64)> = Vec::with_capacity(options.entities * 3 / 2);
    let mut entity = 0u64;
    let mut emails = EmailBook::default();
    while (entity as usize) < options.entities {
        let mut people = household(&world, options, &mut rng);
        emails.claim(&mut people);
        for p in people {
            if entity as usize == options.entities {
                break;
            }
            let mut first = row(&world, &p, &Style::new(0.1, &mut rng));
            if options.has(Phenomenon::Missing) {
                blank(&mut first, 0.03, &mut rng);
            }
            rows.push((first, entity));
            let copies = if options.has(Phenomenon::LargeEntities) && rng.chance(LARGE_ENTITY) {
                5 + rng.below(15)
            } else if rng.chance(options.duplicate_share) {
                1 + rng.below(options.max_duplicates.max(1))
            } else {
                0
            };
            for _ in 0..copies {
                let mut fields = row(&world, &p, &Style::new(0.15, &mut rng));
                corrupt(&world, options, &p, &mut fields, &mut rng);
                rows.push((fields, entity));
            }
            entity += 1;
        }
    }
    rng.shuffle(&mut rows);
    let width = (rows.len().max(1) as f64).log10().ceil() as usize + 1;
    let keys: StringArray =
        (0..rows.len()).map(|i| Some(format!("{}{:0width$}", options.key_prefix, i))).collect();
    let mut columns: Vec<ArrayRef> = vec![Arc::new(keys)];
    for c in 0..9 {
        let values: StringArray =
            rows.iter().map(|(f, _)| if f[c].is_empty() { None } else { Some(f[c].as_str()) }).collect();
        columns.push(Arc::new(values));
    }
    let schema =
        Schema::new(COLUMNS.iter().map(|c| Field::new(*c, DataType::Utf8, true)).collect::<Vec<_>>());
    let batch = RecordBatch::try_new(Arc::new(schema), columns).expect("columns match the schema");
    Synthetic { batch, entity: rows.iter().map(|(_, e)| *e).collect() }
}

impl Synthetic {
    /// The truth as a `customer_id,entity_id` table.
    pub fn truth_batch(&self) -> RecordBatch {
        let keys = self.batch.column(0).clone();
        let entities: StringArray = self.entity.iter().map(|e| Some(e.to_string())).collect();
        let schema = Schema::new(vec![
            Field::new(COLUMNS[0], DataType::Utf8, false),
            Field::new("entity_id", DataType::Utf8, false),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![keys, Arc::new(entities)])
            .expect("columns match the schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_with_duplicates() {
        let options = SynthOptions { entities: 200, ..SynthOptions::default() };
        let (a, b) = (generate(&options), generate(&options));
        assert_eq!(a.batch, b.batch);
        assert_eq!(a.entity, b.entity);
        let mut entities = a.entity.clone();
        entities.sort_unstable();
        entities.dedup();
        assert_eq!(entities.len(), 200);
        assert!(a.entity.len() > 230, "too few duplicates: {}", a.entity.len());
    }

    /// Column `c` of a generated batch, by row.
    fn column(data: &Synthetic, c: &str) -> Vec<String> {
        use arrow_array::Array;
        let i = COLUMNS.iter().position(|x| *x == c).unwrap();
        let a = data.batch.column(i).as_any().downcast_ref::<StringArray>().unwrap();
        (0..a.len()).map(|r| if a.is_null(r) { String::new() } else { a.value(r).to_lowercase() }).collect()
    }

    #[test]
    fn names_are_real_and_skewed_and_households_share_addresses() {
        let data =
            generate(&SynthOptions { entities: 3000, duplicate_share: 0.0, ..SynthOptions::default() });
        let last = column(&data, "last_name");
        let smiths = last.iter().filter(|l| l.starts_with("smith")).count();
        assert!(smiths > 10, "Smith is the commonest surname: {smiths}");
        // Different people at one street address, mostly one surname:
        // households; without them, next to none.
        let shared = |data: &Synthetic| {
            let street = column(data, "street");
            let mut seen = std::collections::HashMap::new();
            for (i, s) in street.iter().enumerate() {
                seen.entry(s.clone()).or_insert_with(Vec::new).push(data.entity[i]);
            }
            seen.values().filter(|e| e.len() > 1).count()
        };
        let alone = generate(&SynthOptions {
            entities: 3000,
            duplicate_share: 0.0,
            without: vec![Phenomenon::Households],
            ..SynthOptions::default()
        });
        let (together, apart) = (shared(&data), shared(&alone));
        assert!(together > 300 && together > 4 * apart, "{together} {apart}");
        assert_eq!(alone.entity.iter().max(), Some(&2999), "as many people either way");
    }

    #[test]
    fn an_email_address_belongs_to_one_person_or_one_household() {
        // Without duplicates, each row is one person: an address two rows
        // share is a family address, so both rows live at one home.
        let data = generate(&SynthOptions {
            entities: 20_000,
            duplicate_share: 0.0,
            without: vec![Phenomenon::LargeEntities],
            ..SynthOptions::default()
        });
        let (email, street) = (column(&data, "email"), column(&data, "street"));
        let mut holders = std::collections::HashMap::new();
        for (i, e) in email.iter().enumerate() {
            if !e.is_empty() {
                holders.entry(e.as_str()).or_insert_with(Vec::new).push(i);
            }
        }
        let shared: Vec<&Vec<usize>> = holders.values().filter(|rows| rows.len() > 1).collect();
        assert!(shared.len() > 100, "households share family addresses: {}", shared.len());
        for rows in shared {
            // The street's type is written either way ("St", "Street").
            let home = |i: usize| street[i].rsplit_once(' ').map_or(street[i].as_str(), |(h, _)| h);
            let homes: std::collections::HashSet<&str> =
                rows.iter().filter(|&&i| !street[i].is_empty()).map(|&i| home(i)).collect();
            assert!(
                homes.len() <= 1,
                "{:?} shared across households",
                rows.iter().map(|&i| &email[i]).next()
            );
        }
    }
}
