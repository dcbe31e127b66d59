//! Flat lists of obviously fake names and of public code sets (ICD-10, CPT, RxNorm, SNOMED)
//! the generator draws from. No real person's data is ever produced.

/// Patient first names: clearly fictitious so they are easy to grep for in logs.
pub(super) const FIRST_NAMES: &[&str] = &[
    "Testy",
    "Fakey",
    "Mocky",
    "Dummy",
    "Sampla",
    "Placeholda",
    "Stubby",
    "Fixturo",
    "Simmy",
    "Notreal",
    "Pretendo",
    "Examplia",
];

/// Middle names (often left empty by the generator).
pub(super) const MIDDLE_NAMES: &[&str] = &["Q", "X", "Zed", "Simulata"];

/// Doctor first names.
pub(super) const DOCTOR_FIRST_NAMES: &[&str] = &["Docta", "Healy", "Curo", "Medica", "Clinto"];

/// Fake street names for addresses.
pub(super) const STREETS: &[&str] = &[
    "Fake Street",
    "Placeholder Avenue",
    "Sample Road",
    "Mockingbird Lane",
    "Nowhere Boulevard",
];

/// Fake cities, each paired with a two-letter state.
pub(super) const CITIES: &[(&str, &str)] = &[
    ("Testville", "CA"),
    ("Simburg", "NY"),
    ("Fakesboro", "TX"),
    ("Mocktown", "WA"),
    ("Stubton", "MD"),
];

/// Fake insurance companies with fake payer ids.
pub(super) const INSURERS: &[(&str, &str)] = &[
    ("Acme Sim Health", "SIM01"),
    ("Placeholder Mutual", "SIM02"),
    ("Notreal Blue Plan", "SIM03"),
    ("Example Care Co", "SIM04"),
];

/// Insurance plan types from the spec enum (`insurance_plan_type`).
pub(super) const PLAN_TYPES: &[&str] = &["BL", "CI", "HM", "MB", "MC", "12"];

/// Problems: (ICD-10 code, name, SNOMED CT code).
pub(super) const PROBLEMS: &[(&str, &str, &str)] = &[
    ("F41.1", "Generalized anxiety disorder", "21897009"),
    (
        "F32.9",
        "Major depressive disorder, single episode, unspecified",
        "35489007",
    ),
    (
        "F43.10",
        "Post-traumatic stress disorder, unspecified",
        "47505003",
    ),
    (
        "F90.0",
        "Attention-deficit hyperactivity disorder, predominantly inattentive type",
        "192127007",
    ),
    ("I10", "Essential (primary) hypertension", "59621000"),
    (
        "E11.9",
        "Type 2 diabetes mellitus without complications",
        "44054006",
    ),
    ("J45.909", "Unspecified asthma, uncomplicated", "195967001"),
    ("G47.00", "Insomnia, unspecified", "193462001"),
];

/// Medications: (fake display name, RxNorm code, dosage quantity, dosage units, frequency).
pub(super) const MEDICATIONS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "Simuloxetine 20 MG Oral Tablet",
        "312938",
        "20",
        "mg",
        "once daily",
    ),
    (
        "Fakeprazole 40 MG Oral Capsule",
        "314077",
        "40",
        "mg",
        "once daily",
    ),
    (
        "Placebotrine 10 MG Oral Tablet",
        "197361",
        "10",
        "mg",
        "twice daily",
    ),
    (
        "Mockazepam 0.5 MG Oral Tablet",
        "197527",
        "0.5",
        "mg",
        "as needed",
    ),
    (
        "Testformin 500 MG Oral Tablet",
        "861007",
        "500",
        "mg",
        "twice daily",
    ),
];

/// Allergies: (description, reaction, SNOMED reaction code from the spec enum).
pub(super) const ALLERGIES: &[(&str, &str, &str)] = &[
    ("Penicillin", "Hives", "247472004"),
    ("Cat hair", "Sneezing", "162397003"),
    ("Peanuts", "Anaphylaxis", "39579001"),
    ("Latex", "Rash", "271807003"),
];

/// Billing procedures: (CPT code, description, price in dollars).
pub(super) const PROCEDURES: &[(&str, &str, f64)] = &[
    ("90837", "Psychotherapy, 60 minutes", 180.0),
    ("90834", "Psychotherapy, 45 minutes", 140.0),
    ("90791", "Psychiatric diagnostic evaluation", 220.0),
    (
        "99214",
        "Office visit, established patient, moderate",
        150.0,
    ),
    ("99213", "Office visit, established patient, low", 110.0),
];

/// Appointment reasons.
pub(super) const REASONS: &[&str] = &[
    "Follow-up",
    "Therapy session",
    "Intake",
    "Medication review",
    "Annual check-up",
];

/// Doctor specialties.
pub(super) const SPECIALTIES: &[&str] = &[
    "Psychiatry",
    "Family Medicine",
    "Psychology",
    "Internal Medicine",
];
