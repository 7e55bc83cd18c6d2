//! Lists page through everything with cursors, in both orders, and filter items by status.

use serde_json::{json, Value};

use crate::common::{desk, sqlite_server};

fn field<'a>(rows: &'a [Value], key: &str) -> Vec<&'a Value> {
    rows.iter().map(|r| &r[key]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_page_through_by_name_and_creation_in_both_orders() {
    let s = sqlite_server().await;
    let d = desk(&s).await; // creates "Front desk"
    let tid = d.template["id"].as_str().unwrap();
    for name in ["Pharmacy", "Billing", "X-ray", "Admissions", "Lab", "Cashier"] {
        s.post("/api/v1/queues", json!({"name": name, "templateId": tid})).await.expect(201);
    }
    let mut by_name = ["Admissions", "Billing", "Cashier", "Front desk", "Lab", "Pharmacy", "X-ray"];
    let created = ["Front desk", "Pharmacy", "Billing", "X-ray", "Admissions", "Lab", "Cashier"];
    let cases: [(&str, Vec<&str>); 4] = [
        ("sort=name", by_name.to_vec()),
        ("sort=name&order=desc", {
            by_name.reverse();
            by_name.to_vec()
        }),
        ("sort=createdAt&order=asc", created.to_vec()),
        ("order=desc", created.iter().rev().copied().collect()),
    ];
    for (query, want) in cases {
        for limit in [1, 3, 7, 50] {
            let (rows, pages) = s.all_pages("/api/v1/queues", query, limit).await;
            let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
            assert_eq!(names, want, "{query} limit={limit}");
            assert_eq!(pages, 7usize.div_ceil(limit as usize), "{query} limit={limit}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_templates_page_in_both_orders() {
    let s = sqlite_server().await;
    let d = desk(&s).await;
    let qid = d.queue["id"].as_str().unwrap();
    for _ in 0..4 {
        s.post(&format!("/api/v1/queues/{qid}/sessions"), json!({})).await.expect(201);
    }
    let path = format!("/api/v1/queues/{qid}/sessions");
    let (asc, _) = s.all_pages(&path, "", 2).await;
    assert_eq!(field(&asc, "sessionNumber"), [&json!(1), &json!(2), &json!(3), &json!(4), &json!(5)]);
    let (desc, _) = s.all_pages(&path, "sort=sessionNumber&order=desc", 2).await;
    assert_eq!(field(&desc, "sessionNumber"), [&json!(5), &json!(4), &json!(3), &json!(2), &json!(1)]);
    let (by_creation, _) = s.all_pages(&path, "sort=createdAt&order=desc", 3).await;
    assert_eq!(by_creation, desc);

    s.post("/api/v1/templates", crate::common::desk_template("Another")).await.expect(201);
    let (templates, pages) = s.all_pages("/api/v1/templates", "sort=name&order=desc", 1).await;
    assert_eq!(field(&templates, "name"), [&json!("Desk"), &json!("Another")]);
    assert_eq!(pages, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_page_by_number_and_filter_by_status() {
    let s = sqlite_server().await;
    let d = desk(&s).await;
    let sid = d.session_id();
    let mut ids = Vec::new();
    for n in 1..=7 {
        let item = s.post(&format!("/api/v1/sessions/{sid}/items"), json!({"displayName": format!("Guest {n}")})).await;
        ids.push(item.expect(201)["id"].as_str().unwrap().to_string());
    }
    for i in [1, 4, 5] {
        s.patch(&format!("/api/v1/items/{}/status", ids[i]), json!({"transition": "call"})).await.expect(200);
    }
    let path = format!("/api/v1/sessions/{sid}/items");
    let numbers =
        |rows: &[Value]| rows.iter().map(|r| r["queueNumber"].as_str().unwrap().to_string()).collect::<Vec<_>>();

    let (asc, pages) = s.all_pages(&path, "", 2).await;
    assert_eq!(numbers(&asc), ["F-1", "F-2", "F-3", "F-4", "F-5", "F-6", "F-7"]);
    assert_eq!(pages, 4);
    let (desc, _) = s.all_pages(&path, "sort=number&order=desc", 3).await;
    assert_eq!(numbers(&desc), ["F-7", "F-6", "F-5", "F-4", "F-3", "F-2", "F-1"]);
    let (created_desc, _) = s.all_pages(&path, "sort=createdAt&order=desc", 4).await;
    assert_eq!(numbers(&created_desc), numbers(&desc));

    let serving = d.status("Serving");
    let (filtered, pages) = s.all_pages(&path, &format!("status={serving}"), 2).await;
    assert_eq!(numbers(&filtered), ["F-2", "F-5", "F-6"]);
    assert_eq!(pages, 2);
    assert!(filtered.iter().all(|i| i["statusId"] == serving));
    let (filtered_desc, _) = s.all_pages(&path, &format!("status={serving}&order=desc"), 1).await;
    assert_eq!(numbers(&filtered_desc), ["F-6", "F-5", "F-2"]);
    let (waiting, _) = s.all_pages(&path, &format!("status={}", d.status("Waiting")), 50).await;
    assert_eq!(numbers(&waiting), ["F-1", "F-3", "F-4", "F-7"]);
    let (done, _) = s.all_pages(&path, &format!("status={}", d.status("Done")), 50).await;
    assert!(done.is_empty());
}
