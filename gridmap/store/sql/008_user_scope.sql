-- 008: the streets or communities a user works in (JSON list of division codes; NULL or []:
-- city-wide). Staff and planners see and change only what lies in their scope.
ALTER TABLE gridmap.users ADD COLUMN scope text;
