"""Live broadcast from a cadre's phone (issue 15): /api/v1/communes/{id}/live and /api/v1/live/{id}/…"""
