"""The supervision console: server-rendered pages (Chinese) and the JSON API under /api/v1.

create_app() builds the FastAPI application; server.make_server()/run() serve it
with uvicorn; server.ensure_demo_accounts() gives every role a demo sign-in.
"""
