"""A small built-in MedDRA-like coding table: preferred term (PT) -> primary system organ class (SOC).

PT and SOC names are spelled as in MedDRA (English, British spelling: "Diarrhoea", "Pyrexia"). The verbatim
term is what an investigator might write on the CRF (``AETERM``). This is a tiny excerpt for simulation,
not a licensed dictionary: real studies code with the MedDRA version named in the SAP.
"""

from __future__ import annotations

from typing import NamedTuple

from trialkit.errors import TrialkitError

GEN = "General disorders and administration site conditions"
INF = "Infections and infestations"
NERV = "Nervous system disorders"
SKIN = "Skin and subcutaneous tissue disorders"
GI = "Gastrointestinal disorders"
EYE = "Eye disorders"
RESP = "Respiratory, thoracic and mediastinal disorders"
MUSC = "Musculoskeletal and connective tissue disorders"
VASC = "Vascular disorders"
IMM = "Immune system disorders"
INV = "Investigations"
BLOOD = "Blood and lymphatic system disorders"
PSY = "Psychiatric disorders"
INJ = "Injury, poisoning and procedural complications"


class Term(NamedTuple):
    """One coded term: preferred term, primary SOC and a typical verbatim term."""

    pt: str
    soc: str
    verbatim: str


#: PT -> Term. Insertion order is the order used by the simulator.
CODING_TABLE: dict[str, Term] = {
    t.pt: t
    for t in (
        Term("Pyrexia", GEN, "FEVER"),
        Term("Chills", GEN, "CHILLS"),
        Term("Fatigue", GEN, "TIREDNESS"),
        Term("Injection site reaction", GEN, "INJECTION SITE REACTION"),
        Term("Influenza like illness", GEN, "FLU-LIKE SYMPTOMS"),
        Term("Headache", NERV, "HEADACHE"),
        Term("Dizziness", NERV, "DIZZINESS"),
        Term("Nasopharyngitis", INF, "COMMON COLD"),
        Term("Upper respiratory tract infection", INF, "UPPER RESPIRATORY TRACT INFECTION"),
        Term("Oral herpes", INF, "COLD SORE"),
        Term("Eczema herpeticum", INF, "ECZEMA HERPETICUM"),
        Term("Skin infection", INF, "SKIN INFECTION"),
        Term("Urinary tract infection", INF, "URINARY TRACT INFECTION"),
        Term("Dermatitis atopic", SKIN, "ATOPIC DERMATITIS FLARE"),
        Term("Pruritus", SKIN, "ITCHING"),
        Term("Urticaria", SKIN, "HIVES"),
        Term("Diarrhoea", GI, "DIARRHEA"),
        Term("Nausea", GI, "NAUSEA"),
        Term("Vomiting", GI, "VOMITING"),
        Term("Abdominal pain", GI, "ABDOMINAL PAIN"),
        Term("Aphthous ulcer", GI, "MOUTH ULCER"),
        Term("Gastric ulcer", GI, "GASTRIC ULCER"),
        Term("Duodenal ulcer", GI, "DUODENAL ULCER"),
        Term("Gastrointestinal ulcer", GI, "GASTROINTESTINAL ULCER"),
        Term("Conjunctivitis", EYE, "CONJUNCTIVITIS"),
        Term("Conjunctivitis allergic", EYE, "ALLERGIC CONJUNCTIVITIS"),
        Term("Cough", RESP, "COUGH"),
        Term("Oropharyngeal pain", RESP, "SORE THROAT"),
        Term("Asthma", RESP, "ASTHMA EXACERBATION"),
        Term("Arthralgia", MUSC, "JOINT PAIN"),
        Term("Back pain", MUSC, "BACK PAIN"),
        Term("Hypertension", VASC, "HIGH BLOOD PRESSURE"),
        Term("Hypersensitivity", IMM, "ALLERGIC REACTION"),
        Term("Alanine aminotransferase increased", INV, "ALT INCREASED"),
        Term("Anaemia", BLOOD, "ANEMIA"),
        Term("Insomnia", PSY, "INSOMNIA"),
        Term("Fall", INJ, "FALL"),
    )
}

#: Gastrointestinal ulceration, an event of special interest for rocatinlimab (IGNITE press release).
GI_ULCERATION = ("Gastric ulcer", "Duodenal ulcer", "Gastrointestinal ulcer")


def lookup(pt: str) -> Term:
    """The coding of one preferred term; unknown terms raise :class:`TrialkitError`."""
    try:
        return CODING_TABLE[pt]
    except KeyError:
        raise TrialkitError(
            f"preferred term {pt!r} is not in the built-in coding table",
            variable="AEDECOD",
            fix="use one of: " + ", ".join(CODING_TABLE) + " (or pass soc= for a custom term)",
        ) from None
