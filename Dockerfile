FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY registry registry
COPY trials trials
COPY screening screening
RUN pip install --no-cache-dir .
COPY . .
RUN DEBUG=true DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost \
    python manage.py collectstatic --no-input
RUN useradd --system dyad
USER dyad
EXPOSE 8000
CMD ["gunicorn", "registry.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
