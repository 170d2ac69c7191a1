"""A village head sees only the jobs of items they may see (issue 13, Low): the render job of a secretary's
commune-wide draft names the item and its fate, so it is as hidden as the item, in the list and by id."""
from __future__ import annotations


def test_village_head_sees_jobs_of_visible_items_only(client, world):
    hidden = client.post(f"/api/v1/communes/{world.a}/content", json={"title": "Nháp cả xã", "text": "Xin chào"},
                         headers=world.h("secretary"))
    assert hidden.status_code == 202, hidden.text
    hidden_job = hidden.json()["job"]["id"]
    own = client.post(f"/api/v1/communes/{world.a}/content",
                      json={"title": "Của trưởng thôn", "text": "Họp thôn", "village_id": world.village_a},
                      headers=world.h("village_head"))
    assert own.status_code == 202, own.text
    own_job = own.json()["job"]["id"]
    hidden_item = hidden.json()["item"]["id"]
    assert client.get(f"/api/v1/content/{hidden_item}", headers=world.h("village_head")).status_code == 404
    listed = client.get(f"/api/v1/communes/{world.a}/jobs", headers=world.h("village_head"))
    assert listed.status_code == 200 and [j["id"] for j in listed.json()] == [own_job]
    gone = client.get(f"/api/v1/jobs/{hidden_job}", headers=world.h("village_head"))
    assert gone.status_code == 404 and gone.json()["code"] == "job_not_found"
    assert client.get(f"/api/v1/jobs/{own_job}", headers=world.h("village_head")).status_code == 200
    # the commune's other roles still see every job
    for role in ("cadre", "secretary", "admin"):
        ids = {j["id"] for j in client.get(f"/api/v1/communes/{world.a}/jobs", headers=world.h(role)).json()}
        assert ids == {hidden_job, own_job}, role
