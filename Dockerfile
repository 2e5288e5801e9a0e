FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# A throwaway key for this one build step: none is baked into the image (set SECRET_KEY to run).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DATABASE_URL= REDIS_URL= python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "cs_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
