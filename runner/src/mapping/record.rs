//! Mapping one source record to its row(s).

use minijinja::context;
use minijinja::value::Serde;
use serde_json::{Map, Value, json};

use super::coerce::coerce;
use super::compile::{CompiledField, CompiledPipeline};
use super::error::MappingError;

/// A mapped row: column name -> coerced JSON value.
pub type Row = Map<String, Value>;

impl CompiledPipeline {
    /// Maps one source record. Without expansion that is one row; with expansion, one row per
    /// present item (and per item whose `require` column is non-empty).
    pub fn map_record(&self, record: &Value) -> Result<Vec<Row>, MappingError> {
        if self.expand.is_empty() {
            return Ok(vec![self.map_doc(record, record)?]);
        }
        let mut rows = Vec::with_capacity(self.expand.len());
        for (label, path) in &self.expand {
            let item = path.one(record);
            if item.is_null() || item.as_object().is_some_and(Map::is_empty) {
                continue;
            }
            let doc = json!({"record": record, "item": item, "label": label});
            let row = self.map_doc(&doc, &doc["item"])?;
            let required_empty = self
                .expand_require
                .as_ref()
                .is_some_and(|c| match row.get(c) {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.trim().is_empty(),
                    Some(_) => false,
                });
            if !required_empty {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// [`CompiledPipeline::map_record`] taking the record: without expansion, a record that
    /// maps moves into its row's raw column instead of being copied. The record comes back
    /// (second) unless it moved: on failure, and with expansion (whose rows hold items).
    pub fn map_record_owned(
        &self,
        record: Value,
    ) -> (Result<Vec<Row>, MappingError>, Option<Value>) {
        let Some(raw_col) = self.raw.as_ref().filter(|_| self.expand.is_empty()) else {
            return (self.map_record(&record), Some(record));
        };
        match self.map_fields(&record) {
            Ok(mut row) => {
                row.insert(raw_col.clone(), record);
                (Ok(vec![row]), None)
            }
            Err(e) => (Err(e), Some(record)),
        }
    }

    fn map_doc(&self, doc: &Value, raw: &Value) -> Result<Row, MappingError> {
        let mut row = self.map_fields(doc)?;
        if let Some(raw_col) = &self.raw {
            row.insert(raw_col.clone(), raw.clone());
        }
        Ok(row)
    }

    /// The mapped columns of `doc` and the key check, without the raw column.
    fn map_fields(&self, doc: &Value) -> Result<Row, MappingError> {
        let mut row = Map::with_capacity(self.fields.len() + 1);
        for f in &self.fields {
            let v = self.field_value(f, doc)?;
            row.insert(f.name.clone(), v);
        }
        for k in &self.key {
            if row.get(k).is_none_or(Value::is_null) {
                return Err(MappingError::Missing {
                    file: self.file.clone(),
                    field: k.clone(),
                });
            }
        }
        Ok(row)
    }

    fn field_value(&self, f: &CompiledField, doc: &Value) -> Result<Value, MappingError> {
        let mut v = f.path.as_ref().map_or(Value::Null, |p| p.one(doc));
        if let Some(t) = &f.transform {
            v = self.render(f, t, &v, doc)?;
        }
        if v.is_null()
            && let Some(d) = &f.default
        {
            v = d.clone();
        }
        let out = coerce(&v, f.ty).map_err(|error| MappingError::Coerce {
            file: self.file.clone(),
            field: f.name.clone(),
            error,
        })?;
        if f.required && out.is_null() {
            return Err(MappingError::Missing {
                file: self.file.clone(),
                field: f.name.clone(),
            });
        }
        Ok(out)
    }

    fn render(
        &self,
        f: &CompiledField,
        name: &str,
        value: &Value,
        doc: &Value,
    ) -> Result<Value, MappingError> {
        let fail = |reason: String| MappingError::Transform {
            file: self.file.clone(),
            field: f.name.clone(),
            reason,
        };
        let tmpl = self
            .templates
            .get_template(name)
            .map_err(|e| fail(e.kind().to_string()))?;
        let ctx = if f.transform_reads_record {
            context! { value => Serde(value), record => Serde(doc) }
        } else {
            context! { value => Serde(value) }
        };
        // The engine's message can quote data, so only its kind is kept.
        let out = tmpl.render(ctx).map_err(|e| fail(e.kind().to_string()))?;
        Ok(if out.is_empty() || out == "none" {
            Value::Null
        } else {
            Value::String(out)
        })
    }

    /// The natural-key values of a mapped row, in key order.
    pub fn key_of(&self, row: &Row) -> Vec<Value> {
        self.key
            .iter()
            .map(|k| row.get(k).cloned().unwrap_or(Value::Null))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pipeline::PipelineFile;

    fn pipeline(yaml: &str) -> CompiledPipeline {
        let file: PipelineFile = serde_saphyr::from_str(yaml).unwrap();
        CompiledPipeline::compile("patients", &file).unwrap()
    }

    const PATIENTS: &str = r#"
source: {system: drchrono, endpoint: /api/patients}
target: {table: patients, key: [drchrono_id], version: source_updated_at, raw: drchrono_raw}
fields:
  drchrono_id: {path: $.id, type: int}
  first_name: {path: $.first_name}
  date_of_birth: {path: $.date_of_birth, type: date}
  source_updated_at: {path: $.updated_at, type: timestamp}
  initials: {transform: "{{ record.first_name[:1] }}{{ record.last_name[:1] }}"}
  status: {path: $.patient_status, transform: "{{ {'A': 'active', 'I': 'inactive'}[value] | default('unknown') }}"}
"#;

    #[test]
    fn a_record_maps_to_one_row_with_its_raw_object() {
        let p = pipeline(PATIENTS);
        let rec = json!({"id": 7, "first_name": "Testy", "last_name": "Fakeson", "date_of_birth": "1990-01-31",
                          "updated_at": "2024-03-05T14:30:00", "patient_status": "A", "unknown_new_field": 1});
        let rows = p.map_record(&rec).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r["drchrono_id"], json!(7));
        assert_eq!(r["date_of_birth"], json!("1990-01-31"));
        assert_eq!(r["source_updated_at"], json!("2024-03-05T14:30:00Z"));
        assert_eq!(r["initials"], json!("TF"));
        assert_eq!(r["status"], json!("active"));
        assert_eq!(r["drchrono_raw"], rec);
        assert_eq!(p.key_of(r), vec![json!(7)]);
    }

    #[test]
    fn an_owned_record_moves_into_its_row_and_comes_back_when_it_fails() {
        let p = pipeline(PATIENTS);
        let rec = json!({"id": 7, "first_name": "Testy", "last_name": "Fakeson", "date_of_birth": "1990-01-31",
                          "updated_at": "2024-03-05T14:30:00", "patient_status": "A"});
        let (rows, kept) = p.map_record_owned(rec.clone());
        assert_eq!(
            rows.unwrap(),
            p.map_record(&rec).unwrap(),
            "the same row as by reference"
        );
        assert_eq!(kept, None, "the record lives on in the raw column only");

        let bad = json!({"id": 8, "date_of_birth": "13/45/1990", "patient_status": "A"});
        let (rows, back) = p.map_record_owned(bad.clone());
        let e = rows.unwrap_err();
        assert_eq!(back, Some(bad));
        assert_eq!(
            e.to_string(),
            "patients.yaml: field date_of_birth: value is not a date"
        );
    }

    #[test]
    fn a_bad_date_names_the_file_and_field_and_hides_the_value_outside_fixtures() {
        let p = pipeline(PATIENTS);
        let rec = json!({"id": 7, "date_of_birth": "13/45/1990", "patient_status": "A"});
        let e = p.map_record(&rec).unwrap_err();
        assert_eq!(
            e.with_value(),
            r#"patients.yaml: field date_of_birth: "13/45/1990" is not a date"#
        );
        assert_eq!(
            e.to_string(),
            "patients.yaml: field date_of_birth: value is not a date"
        );
    }

    #[test]
    fn a_record_without_its_key_is_rejected() {
        let p = pipeline(PATIENTS);
        let e = p
            .map_record(&json!({"first_name": "X", "last_name": "Y", "patient_status": "A"}))
            .unwrap_err();
        assert!(
            matches!(e, MappingError::Missing { ref field, .. } if field == "drchrono_id"),
            "{e}"
        );
    }

    #[test]
    fn expansion_yields_one_row_per_present_item() {
        let p = pipeline(
            r#"
source: {system: drchrono, endpoint: /api/patients}
target: {table: insurance_records, key: [drchrono_patient_id, insurance_type], raw: drchrono_raw}
expand:
  items: {primary: $.primary_insurance, secondary: $.secondary_insurance, tertiary: $.tertiary_insurance}
  require: insurance_company
fields:
  drchrono_patient_id: {path: $.record.id, type: int}
  insurance_type: {path: $.label}
  insurance_company: {path: $.item.insurance_company}
"#,
        );
        let rec = json!({"id": 9,
            "primary_insurance": {"insurance_company": "Acme Health"},
            "secondary_insurance": {"insurance_company": ""},
            "tertiary_insurance": null});
        let rows = p.map_record(&rec).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["insurance_type"], json!("primary"));
        assert_eq!(
            rows[0]["drchrono_raw"],
            json!({"insurance_company": "Acme Health"})
        );
    }

    #[test]
    fn compile_errors_point_at_the_offending_node() {
        let file: PipelineFile = serde_saphyr::from_str(
            "source: {system: drchrono, records: '$.results[', endpoint: /x}\ntarget: {table: t, key: [a]}\nfields:\n  a: {path: 'nope'}\n  b: {transform: '{{ value '}\n  c: {type: int}\n",
        )
        .unwrap();
        let errs = CompiledPipeline::compile("x", &file).unwrap_err();
        let at: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            at,
            [
                "/source/records",
                "/fields/a/path",
                "/fields/b/transform",
                "/fields/c"
            ]
        );
    }
}
